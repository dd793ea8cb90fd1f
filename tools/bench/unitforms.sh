#!/bin/sh
# unitforms.sh BUILD - the expert-unit forms (spec 5.3) by paging throughput: the same generated
# MoE experts (moegen, Qwen3-30B-A3B's expert shape, 4 layers x 128 experts) as zstd t2, raw t2
# and raw b3 units; for each, unit loads through libtrit (unitbench: pread + xxh3 + decode) and
# the runner's decode speed under a budget far below the experts (every token pages) and with
# every expert resident (the kernels alone). Interleaved rounds; medians, wall and CPU time.
# Environment: UF_DIR (default /dev/shm/trit-unitforms), UF_ROUNDS (default 3).
set -eu
B=${1:-build}
DIR=${UF_DIR:-/dev/shm/trit-unitforms}
R=${UF_ROUNDS:-3}
mkdir -p "$DIR"
trap 'rm -f "$DIR"/u-*.trit' EXIT INT TERM
for f in zstd raw b3; do
    "$B/bench/moegen" "$DIR/u-$f.trit" --layers 4 --units "$f" --alpha 0.8 > "$DIR/gen-$f.json"
done
P=2500,2537,2574,2611,2648,2685,2722,2759
for r in $(seq 1 "$R"); do
    for f in zstd raw b3; do
        /usr/bin/time -f '{"wall_s":%e,"cpu_s":%U+%S}' -o "$DIR/ub-time-$f-$r.json" "$B/bench/unitbench" "$DIR/u-$f.trit" /dev/null 3 \
            > "$DIR/ub-$f-$r.json"
        for bud in 64M 4G; do
            /usr/bin/time -f '{"wall_s":%e,"cpu_s":%U+%S}' -o "$DIR/run-time-$f-$bud-$r.json" "$B/trit-run" "$DIR/u-$f.trit" \
                --tokens "$P" -n 24 --temp 1 --top-k 0 --top-p 1 --seed 7 --ignore-eos --threads 1 --expert-cache "$bud" \
                --prefetch off --stats --json > "$DIR/run-$f-$bud-$r.json"
        done
    done
done
python3 - "$DIR" "$R" <<'PY'
import json, sys, statistics as st
d, R = sys.argv[1], int(sys.argv[2])
def cpu(path):
    t = json.load(open(path)) if False else open(path).read()
    j = json.loads(t.replace('"cpu_s":', '"cpu_s":"').replace('}', '"}').replace('""', '"'))
    return float(eval(j["cpu_s"])), j["wall_s"]
print("| form | bits/weight stored | unit stored / decoded (MiB) | unit loads/s (median) | weights paged/s | "
      "decode tok/s, 64M budget (every token pages) | CPU s | decode tok/s, all resident | CPU s |")
print("|---|---|---|---|---|---|---|---|---|")
for f in ("zstd", "raw", "b3"):
    g = json.load(open(f"{d}/gen-{f}.json"))
    w_unit = g["expert_params"] / g["units"]
    ub = [json.load(open(f"{d}/ub-{f}-{r}.json")) for r in range(1, R + 1)]
    loads = [u["decode_mbs"] * 1e6 / (u["decoded_bytes"] / u["units"]) for u in ub]
    bpw = ub[0]["stored_bytes"] * 8 / g["expert_params"]
    row = [f, f"{bpw:.3f}", f"{ub[0]['stored_bytes']/ub[0]['units']/2**20:.3f} / {ub[0]['decoded_bytes']/ub[0]['units']/2**20:.3f}",
           f"{st.median(loads):.0f}", f"{st.median(loads)*w_unit/1e9:.2f} G"]
    for bud in ("64M", "4G"):
        tok = [json.load(open(f"{d}/run-{f}-{bud}-{r}.json"))["stats"]["decode_tok_s"] for r in range(1, R + 1)]
        c = [cpu(f"{d}/run-time-{f}-{bud}-{r}.json")[0] for r in range(1, R + 1)]
        row += [f"{st.median(tok):.2f} ({', '.join(f'{x:.2f}' for x in tok)})", f"{st.median(c):.1f}"]
    print("| " + " | ".join(row) + " |")
PY
