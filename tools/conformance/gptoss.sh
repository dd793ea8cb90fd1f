#!/bin/sh
# gptoss.sh BUILD - part of `make conformance` (called by run.sh): gpt-oss (issue 17) against
# llama.cpp. trit-gen gguf-gpt-oss writes the release layout's GGUF twin as llama.cpp's
# converter does (BF16 weights, MXFP4 experts, F32 rest) and, with --f32, the same values all in
# F32; `trit convert` of the twin and `trit run` give trit's logits; llama.cpp (logits.mjs) runs
# the twin as is, the F32 twin with an F32 KV cache (its float reference) and the --f32-dense
# twin (F32 weights, MXFP4 experts) with an F32 KV cache: the math trit computes (MXFP4 x q8_0
# activations). gptoss.mjs checks trit against that run (top-5 sets, max |dlogit| within half of
# llama.cpp's own quantization spread, most sequences at float rounding) and top-5 sets against
# the float reference. Sequences up to 16 tokens cross the sliding window (4).
# Prints PASS/FAIL/NOTE lines; exit 1 on any failure.
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
TRIT=$BUILD/trit
GEN=$BUILD/trit-gen
W=$BUILD/conformance/gptoss
mkdir -p "$W"
cp "$HERE/logits.mjs" "$HERE/gptoss.mjs" "$BUILD/conformance/"
SEQS="1,17,42,200,7,9,10,11;1;5,6,7,8,9,10,11,12;100,3,250,77;300,301,302,303,304,305"
SEQS="$SEQS;11,22,33,44,55,66,77,88,99,110,121,132,143,154,165,176;42,42,42,42;9,99,199"
NSEQ=8
if ! "$GEN" gguf-gpt-oss -o "$W/twin.gguf" --force >"$W/log" 2>&1 ||
   ! "$GEN" gguf-gpt-oss --f32 -o "$W/twin32.gguf" --force >>"$W/log" 2>&1 ||
   ! "$GEN" gguf-gpt-oss --f32-dense -o "$W/twinmx.gguf" --force >>"$W/log" 2>&1 ||
   ! "$TRIT" convert "$W/twin.gguf" -o "$W/twin.trit" -f -q >>"$W/log" 2>&1; then
    echo "FAIL  gpt-oss: could not build the model:"
    tail -3 "$W/log" | sed 's/^/      /'
    exit 1
fi
k=0
for toks in $(echo "$SEQS" | tr ';' ' '); do
    if ! "$TRIT" run "$W/twin.trit" --tokens "$toks" -n 0 --logits "$W/run.$k.f32" >>"$W/log" 2>&1; then
        echo "FAIL  gpt-oss: trit run --tokens $toks:"
        tail -3 "$W/log" | sed 's/^/      /'
        exit 1
    fi
    k=$((k + 1))
done
if ! node "$BUILD/conformance/logits.mjs" "$W/twin.gguf" "$SEQS" >"$W/q.jsonl" 2>"$W/q.err" ||
   ! LOGITS_KV=F32 node "$BUILD/conformance/logits.mjs" "$W/twin32.gguf" "$SEQS" >"$W/f.jsonl" 2>"$W/f.err" ||
   ! LOGITS_KV=F32 node "$BUILD/conformance/logits.mjs" "$W/twinmx.gguf" "$SEQS" >"$W/m.jsonl" 2>"$W/m.err"; then
    echo "FAIL  gpt-oss: llama.cpp could not evaluate the twin:"
    grep -v '^ *at \|^ *$' "$W/q.err" "$W/f.err" "$W/m.err" | head -3 | sed 's/^/      /'
    exit 1
fi
node "$BUILD/conformance/gptoss.mjs" gpt-oss "$W" "$NSEQ"
[ $? -eq 0 ]
