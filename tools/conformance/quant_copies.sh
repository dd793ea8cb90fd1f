#!/bin/sh
# quant_copies.sh BUILD - block-quantized GGUF copies of a ternary model, as they are on the hub,
# made by llama.cpp's own quantizer (llama_model_quantize in node-llama-cpp's libllama, through
# build/bench/llama_quant): `trit convert --ternarize` of each copy must give back the model's
# codes (no flipped code in any ternary tensor) and its magnitude (relative error of the
# tensor's values <= QC_TOL, default 2e-2: Q6_K copies reach 0.9e-2, Q4_K_M 0.4e-2; absmean's
# gamma alone, the old answer, is ~0.65x off: 0.35).
#   trit-gen gguf (TQ2_0/TQ1_0) -> trit convert -> A.trit -> trit export --dequant (F16)
#   -> llama_quant q8_0 | q4_0 | q5_0 | q4_k_m | q6_k -> trit convert --ternarize -> B.trit
#   -> trit diff --json A B
# A control diffs A against the same model of another seed: it must show flipped codes, so the
# check can fail. Prints PASS/FAIL lines; exit 1 on any failure, 77 when libllama is missing.
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
TRIT=$BUILD/trit
GEN=$BUILD/trit-gen
LQ=$BUILD/bench/llama_quant
W=$BUILD/conformance/qc
TOL=${QC_TOL:-2e-2}
mkdir -p "$W"
LIB=$(find "$BUILD/conformance/node_modules/@node-llama-cpp" -path '*linux-x64/bins/linux-x64/libllama*.so' 2>/dev/null | head -1)
if [ -z "$LIB" ] || [ ! -x "$LQ" ] || [ "$(uname -m)" != x86_64 ]; then
    echo "SKIP  quantized copies: no libllama for this machine or no $LQ"
    exit 77
fi
LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
fail=0
# rows of 256: k-quant blocks
dims="--embd 256 --ff 512 --heads 4 --kv-heads 4 --layers 2 --vocab 512"
# check A B LABEL WANT: WANT=same (no flips, rel <= TOL) or differ (some flips: the control)
check() {
    "$TRIT" diff --json "$1" "$2" >"$W/diff.json" 2>"$W/diff.err"
    node -e '
const [f, tol, want, label] = process.argv.slice(1);
const j = JSON.parse(require("fs").readFileSync(f, "utf8"));
let n = 0, flips = 0, worst = 0;
for (const t of j.tensors) {
  if (t.a_type !== "t2" || t.b_type !== "t2") continue;
  n++;
  flips += t.flips ? t.flips.total : 0;
  worst = Math.max(worst, t.rel_error || 0);
}
const same = n > 0 && flips === 0 && worst <= Number(tol);
const ok = want === "same" ? same : n > 0 && flips > 0;
console.log(`${ok ? "PASS" : "FAIL"}  ${label}: ${n} ternary tensors, ${flips} flipped codes, worst relative error ${worst.toPrecision(3)} (tol ${tol})`);
process.exit(ok ? 0 : 1);' "$W/diff.json" "$TOL" "$3" "$4" || fail=$((fail + 1))
}
run() {   # run LABEL CMD...: a step that must succeed
    label=$1
    shift
    if ! "$@" >"$W/step.log" 2>&1; then
        echo "FAIL  $label: $(tail -2 "$W/step.log" | tr '\n' ' ')"
        fail=$((fail + 1))
        return 1
    fi
}
run "trit-gen" "$GEN" gguf $dims -o "$W/src.gguf" --force || exit 1
run "convert" "$TRIT" convert "$W/src.gguf" -o "$W/a.trit" -f -q || exit 1
run "export --dequant" "$TRIT" export "$W/a.trit" --dequant -o "$W/a-f16.gguf" --force -q || exit 1
for q in q8_0 q4_0 q5_0 q4_k_m q6_k; do
    run "llama.cpp quantize $q" "$LQ" "$LIB" "$W/a-f16.gguf" "$W/$q.gguf" 1 "$q" || continue
    run "convert --ternarize $q" "$TRIT" convert "$W/$q.gguf" -o "$W/$q.trit" -f -q --ternarize || continue
    check "$W/a.trit" "$W/$q.trit" same "$q copy (llama.cpp's quantizer) -> convert --ternarize"
done
# the control: another seed's model has other codes
run "trit-gen seed 2" "$GEN" gguf $dims --seed 2 -o "$W/other.gguf" --force &&
    run "convert seed 2" "$TRIT" convert "$W/other.gguf" -o "$W/other.trit" -f -q &&
    check "$W/a.trit" "$W/other.trit" differ "control: another seed's model shows flipped codes"
[ "$fail" -eq 0 ]
