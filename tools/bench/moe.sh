#!/bin/sh
# moe.sh BUILD - `make bench-moe`: a generated ternary MoE of >= 30 B parameters (moegen.c,
# Qwen3-30B-A3B's shape, planted Zipf-like routing with topic locality) written to a tmpfs,
# run under a 2 GB expert budget with prefetch on and off and LRU, and with every expert
# resident when memory allows; the expert trace replayed under every policy (moereplay.c).
#
# Environment: MOE_DIR (default /dev/shm/trit-bench-moe when /dev/shm has 8 GiB free and the
# machine 14 GiB available, else ${TMPDIR:-/tmp}/trit-bench-moe: a tmpfs file is unreclaimable
# RAM, and with the runner's 2.7 GB on top a busy machine OOM-killed the run), MOE_UNITS (zstd|raw, default zstd),
# MOE_TOKENS (decoded tokens per run, default 48), MOE_THREADS (default 2), MOE_ROUNDS
# (interleaved rounds, default 1), MOE_KEEP=1 keeps the container. The container is deleted at
# the end (and on interrupt).
set -eu
B=${1:-build}
shm_free_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
avail_kb=$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)
if [ "${shm_free_kb:-0}" -gt $((8 * 1024 * 1024)) ] && [ "$avail_kb" -gt $((14 * 1024 * 1024)) ]; then
    DIR=${MOE_DIR:-/dev/shm/trit-bench-moe}
else
    DIR=${MOE_DIR:-${TMPDIR:-/tmp}/trit-bench-moe}
fi
UNITS=${MOE_UNITS:-zstd}
N=${MOE_TOKENS:-48}
TH=${MOE_THREADS:-2}
ROUNDS=${MOE_ROUNDS:-1}
M=$DIR/moe30b-$UNITS.trit
mkdir -p "$DIR"
cleanup() { [ "${MOE_KEEP:-0}" = 1 ] || rm -f "$M" "$M".tmp-*; }
trap cleanup EXIT INT TERM

need_kb=$((8 * 1024 * 1024))
free_kb=$(df -Pk "$DIR" | awk 'NR == 2 { print $4 }')
if [ "$free_kb" -lt "$need_kb" ]; then
    echo "bench-moe: $DIR has $((free_kb / 1024)) MiB free, needs 8 GiB" >&2
    exit 1
fi
if [ ! -f "$M" ]; then
    echo "== writing $M (moegen, units $UNITS)"
    /usr/bin/time -f "moegen: %e s wall, %U s user, %S s sys" "$B/bench/moegen" "$M" --units "$UNITS" --alpha 0.8 | tee "$DIR/gen.json"
fi
ls -l "$M"

# prompt: 8 tokens of topic 5 (tokens 2500..2999); sampled decode at temperature 1 over the
# whole vocabulary, seed fixed: every run decodes the same tokens (logits do not depend on the
# cache), so the runs share one trace
P=2500,2537,2574,2611,2648,2685,2722,2759
run() { # name budget policy prefetch
    out=$DIR/run-$1.json
    /usr/bin/time -f '{"wall_s":%e,"user_s":%U,"sys_s":%S,"maxrss_kb":%M}' -o "$DIR/time-$1.json" \
        "$B/trit-run" "$M" --tokens "$P" -n "$N" --temp 1 --top-k 0 --top-p 1 --seed 7 --ignore-eos \
        --threads "$TH" --expert-cache "$2" --cache-policy "$3" --prefetch "$4" --trace "$DIR/trace-$1.txt" \
        --stats --json > "$out"
    python3 - "$1" "$out" "$DIR/time-$1.json" <<'EOF'
import json, sys
name, out, tm = sys.argv[1:4]
doc = json.load(open(out)); s = doc["stats"]; t = json.load(open(tm)); c = s["expert_cache"]
print(f"{name:24s} decode {s['decode_tok_s']:7.3f} tok/s  prefill {s['prefill_tok_s']:6.2f} tok/s  hit {100*c['hit_rate']:5.1f}%  "
      f"loads {c['loads']:6d} (prefetch {c['prefetch']['loads']}, served {c['prefetch']['hits']}, wasted {c['prefetch']['wasted']})  "
      f"peak resident {c['peak_resident_bytes']/2**20:7.1f} MiB  RSS {t['maxrss_kb']/1024:7.1f} MiB  cpu {t['user_s']+t['sys_s']:.1f} s  wall {t['wall_s']:.1f} s")
EOF
}
for r in $(seq 1 "$ROUNDS"); do
    echo "== round $r"
    run "2G-layer-prefetch-r$r" 2G layer on
    run "2G-layer-noprefetch-r$r" 2G layer off
    run "2G-lru-noprefetch-r$r" 2G lru off
    avail_kb=$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)
    dec=$(python3 -c "import json; g=json.load(open('$DIR/gen.json')); print(g['units']*g['unit_decoded_bytes']//1024)")
    if [ "$avail_kb" -gt $((dec + 2 * 1024 * 1024)) ]; then
        run "all-resident-r$r" 64G layer off
    else
        echo "all-resident: skipped, $((avail_kb / 1024)) MiB available < $((dec / 1024)) MiB of decoded experts + 2 GiB"
    fi
done
python3 - "$DIR" "$M" <<'EOF'
import json, os, sys
d, m = sys.argv[1:3]
g = json.load(open(f"{d}/gen.json"))
dense = os.path.getsize(m) - g["expert_stored_bytes"]
print(f"model: {g['params']/1e9:.2f} B parameters ({g['expert_params']/1e9:.2f} B in {g['units']} experts), "
      f"container {os.path.getsize(m)/2**30:.2f} GiB, dense {dense/2**20:.1f} MiB, unit {g['unit_decoded_bytes']/2**20:.3f} MiB decoded")
for f in sorted(os.listdir(d)):
    if f.startswith("time-2G"):
        t = json.load(open(f"{d}/{f}"))
        lim = 2 * 2**30 + dense
        print(f"{f[5:-5]:24s} peak RSS {t['maxrss_kb']/1024:.1f} MiB; budget + dense = {lim/2**20:.1f} MiB, "
              f"+10% = {1.1*lim/2**20:.1f} MiB: {'ok' if t['maxrss_kb']*1024 <= 1.1*lim else 'OVER'}")
EOF
G=$(cat "$DIR/gen.json")
U=$(echo "$G" | python3 -c "import json,sys; print(json.load(sys.stdin)['unit_decoded_bytes'])")
echo "== trace replay (policies and Belady's optimum on the trace of round 1)"
for b in 512 1024 2048; do
    printf '%5s MiB: ' "$b"
    "$B/bench/moereplay" "$DIR/trace-2G-lru-noprefetch-r1.txt" 48 128 "$U" $((b * 1024 * 1024))
done
