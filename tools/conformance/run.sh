#!/bin/sh
# run.sh BUILD - `make conformance`: llama.cpp must give the same logits for a source GGUF
# and for its round trip through a .trit container.
#
# llama.cpp is the CPU build shipped in npm node-llama-cpp (pinned in package.json, installed
# into BUILD/conformance; no network besides the npm registry, nothing is compiled).
#
# Sources: ../shared/fixtures/gguf/stories260K.gguf (llama, F32, GQA; Q/K permuted in GGUF),
# trit-gen's `gguf` (bitnet, TQ2_0 attention + TQ1_0 FFN) and `gguf-moe` (qwen3moe, 3-D TQ
# experts). Round trips, each compared with the source's logits:
#   convert  SRC -> trit convert -> trit export            (the real path)
#   fixture  SRC -> mkfixture (libtrit, tests/test_export_build.c) -> trit export
#   tq1      the fixture container exported with --tq1      (ternary sources)
#   dequant  the fixture container exported with --dequant  (ternary sources, F16 weights)
# Tolerances (max |logit difference| over the vocabulary, and the same argmax):
#   CONF_TOL         1e-3 for round trips that keep the weights exactly (same values; TQ1_0
#                    vs TQ2_0 changes only the kernel's summation order)
#   CONF_TOL_DEQUANT 5e-2 for --dequant: F16 weights change llama.cpp's kernel (F16 dot
#                    products instead of TQ x Q8_K), so activations are rounded differently
# Prints one PASS/FAIL line per comparison and "N passed, N failed"; exit 1 on any failure.
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
TRIT=$BUILD/trit
GEN=$BUILD/trit-gen
MK=$BUILD/conformance/mkfixture
W=$BUILD/conformance
FIX=${TRIT_FIXTURES:-../shared/fixtures}
TOL=${CONF_TOL:-1e-3}
TOL_DEQ=${CONF_TOL_DEQUANT:-5e-2}
pass=0
fail=0
mkdir -p "$W"

# Exit 77 (the "skipped" convention) when llama.cpp cannot be had: no node/npm, or the npm
# registry is unreachable. The suite's conformance test reports that as skipped, with why.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "conformance: node and npm are needed (apt-get install nodejs npm)" >&2
    exit 77
fi
if [ ! -f "$W/node_modules/node-llama-cpp/package.json" ] || ! cmp -s "$HERE/package.json" "$W/package.json"; then
    echo "conformance: npm install node-llama-cpp into $W"
    cp "$HERE/package.json" "$W/package.json"
    # --ignore-scripts: the prebuilt CPU binaries ship in the package; nothing to download or build
    (cd "$W" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error) || {
        echo "conformance: npm install node-llama-cpp failed (is the npm registry reachable?)" >&2
        exit 77
    }
fi
# node resolves node-llama-cpp from the script's folder: run copies of the scripts from $W
cp "$HERE/logits.mjs" "$HERE/compare.mjs" "$W/"

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); }

# logits GGUF TOKENS OUT.json
logits() {
    if node "$W/logits.mjs" "$1" "$2" >"$3" 2>"$3.err"; then return 0; fi
    echo "FAIL  llama.cpp could not evaluate $1:"
    grep -v '^ *at \|^ *$\|^Node.js\|^ *\^' "$3.err" | sort -u | head -3 | sed 's/^/      /'
    ko
    return 1
}

# compare LABEL A.json B.json TOL
compare() { if node "$W/compare.mjs" "$@"; then ok; else ko; fi; }

# step LABEL CMD...: run a build step, report a failure with its stderr
step() {
    label=$1
    shift
    if "$@" >"$W/step.out" 2>"$W/step.err"; then
        grep 'warning' "$W/step.err" | sed "s/^/      ($label) /"
        return 0
    fi
    echo "FAIL  $label: $*"
    sed 's/^/      /' "$W/step.err" | tail -5
    ko
    return 1
}

# roundtrip NAME SRC.gguf TOKENS TERNARY
roundtrip() {
    name=$1 src=$2 toks=$3 ternary=$4
    logits "$src" "$toks" "$W/$name.src.json" || return
    if step "$name convert" "$TRIT" convert "$src" -o "$W/$name.conv.trit" -f -q &&
       step "$name convert: export" "$TRIT" export "$W/$name.conv.trit" -o "$W/$name.conv.gguf" --force -q &&
       logits "$W/$name.conv.gguf" "$toks" "$W/$name.conv.json"; then
        compare "$name: source vs trit convert -> trit export" "$W/$name.src.json" "$W/$name.conv.json" "$TOL"
    fi
    step "$name mkfixture" "$MK" "$src" "$W/$name.fix.trit" || return
    if step "$name fixture: export" "$TRIT" export "$W/$name.fix.trit" -o "$W/$name.fix.gguf" --force -q &&
       logits "$W/$name.fix.gguf" "$toks" "$W/$name.fix.json"; then
        compare "$name: source vs libtrit container -> trit export" "$W/$name.src.json" "$W/$name.fix.json" "$TOL"
    fi
    [ "$ternary" = 1 ] || return
    if step "$name --tq1" "$TRIT" export "$W/$name.fix.trit" -o "$W/$name.tq1.gguf" --force -q --tq1 &&
       logits "$W/$name.tq1.gguf" "$toks" "$W/$name.tq1.json"; then
        compare "$name: source vs export --tq1 (TQ1_0)" "$W/$name.src.json" "$W/$name.tq1.json" "$TOL"
    fi
    if step "$name --dequant" "$TRIT" export "$W/$name.fix.trit" -o "$W/$name.deq.gguf" --force -q --dequant &&
       logits "$W/$name.deq.gguf" "$toks" "$W/$name.deq.json"; then
        compare "$name: source vs export --dequant (F16)" "$W/$name.src.json" "$W/$name.deq.json" "$TOL_DEQ"
    fi
}

if [ -f "$FIX/gguf/stories260K.gguf" ]; then
    if logits "$FIX/gguf/stories260K.gguf" 1,403,407,261,378 "$W/stories.ref.json"; then
        compare "stories260K: this llama.cpp vs fixture ref-logits" "$FIX/ref-logits/stories260K.logits.json" "$W/stories.ref.json" "$TOL"
    fi
    roundtrip stories "$FIX/gguf/stories260K.gguf" 1,403,407,261,378 0
else
    echo "SKIP  stories260K: no fixtures at $FIX"
fi
step "trit-gen gguf" "$GEN" gguf -o "$W/bitnet.gguf" --force && roundtrip bitnet "$W/bitnet.gguf" 1,17,42,200,7 1
step "trit-gen gguf-moe" "$GEN" gguf-moe -o "$W/moe.gguf" --force && roundtrip moe "$W/moe.gguf" 1,17,42,200,7 1

# the runner against llama.cpp on generated ternary models (its own PASS/FAIL/NOTE lines)
sh "$HERE/agree.sh" "$BUILD" || fail=$((fail + 1))
sh "$HERE/gptoss.sh" "$BUILD" || fail=$((fail + 1))
# Q8_0/Q4_0/Q5_0/Q4_K_M/Q6_K copies made by llama.cpp's quantizer: codes and magnitude back
sh "$HERE/quant_copies.sh" "$BUILD"
case $? in 0 | 77) ;; *) fail=$((fail + 1)) ;; esac
# Q4_K_M/Q8_0/Q6_K/MXFP4 GGUFs kept as blocks: size, export bit for bit, trit run vs llama.cpp
sh "$HERE/blk.sh" "$BUILD"
case $? in 0 | 77) ;; *) fail=$((fail + 1)) ;; esac

echo "conformance: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
