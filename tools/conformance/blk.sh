#!/bin/sh
# blk.sh BUILD - part of `make conformance`: GGUFs whose weights are block-quantized as they are
# on the hub (llama.cpp's own quantizer, llama_model_quantize through build/bench/llama_quant),
# converted by trit keeping the blocks (spec/container.md 6.3), then:
#   size    the container is at most 1.05x the GGUF (BLK_RATIO)
#   verify  `trit verify` passes (scales checked)
#   export  `trit export` gives back every tensor bit for bit (blkcheck.mjs same)
#   run     `trit run` against llama.cpp on the same GGUF (LOGITS_KV=F32), per sequence: top-5
#           sets equal and max |dlogit| <= llama.cpp's own spread between its run of that GGUF
#           and its run of the F32 original (blkcheck.mjs agree)
# Models (float originals made by trit-gen -> trit convert -> trit export --dequant --f32):
#   moe-tied    trit-gen gguf-moe: qwen3moe, 3-D expert stacks, tied embeddings (output = token_embd)
#   moe-untied  trit-gen qwen3moe: the Qwen3-MoE safetensors release layout, untied output
# Quantizations (llama.cpp's choices per tensor): q4_k_m (Q4_K experts and projections, Q6_K for
# the output/embeddings and some ffn_down/attn_v), q8_0, q6_k, mxfp4_moe (MXFP4 experts, Q8_0
# elsewhere). Prints PASS/FAIL lines; exit 1 on any failure, 77 when libllama is missing.
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
TRIT=$BUILD/trit
GEN=$BUILD/trit-gen
LQ=$BUILD/bench/llama_quant
W=$BUILD/conformance/blk
RATIO=${BLK_RATIO:-1.05}
mkdir -p "$W"
LIB=$(find "$BUILD/conformance/node_modules/@node-llama-cpp" -path '*linux-x64/bins/linux-x64/libllama*.so' 2>/dev/null | head -1)
if [ -z "$LIB" ] || [ ! -x "$LQ" ] || [ "$(uname -m)" != x86_64 ]; then
    echo "SKIP  block-quantized GGUFs: no libllama for this machine or no $LQ"
    exit 77
fi
LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
cp "$HERE/logits.mjs" "$HERE/blkcheck.mjs" "$BUILD/conformance/"
SEQS="1,17,42,200,7;1;5,6,7,8,9,10,11,12;100,3,250,77;300,301,302,303,304,305;11,22,33,44,55,66,77,88,99,110,121,132,143,154,165,176"
NSEQ=6
fail=0
run() {   # run STEP CMD...: a step that must succeed (sh has no locals: its own variable name)
    step=$1
    shift
    if ! "$@" >"$W/step.log" 2>&1; then
        echo "FAIL  $step: $(tail -2 "$W/step.log" | tr '\n' ' ')"
        fail=$((fail + 1))
        return 1
    fi
}
# original LABEL LAYOUT OPTS...: the float GGUF every quantization starts from, and llama.cpp's logits of it
original() {
    label=$1 layout=$2
    shift 2
    case $layout in gguf*) src=$W/$label.src.gguf ;; *) src=$W/$label.src ;; esac
    run "$label: trit-gen $layout" "$GEN" "$layout" "$@" -o "$src" --force &&
        run "$label: convert" "$TRIT" convert "$src" -o "$W/$label.t2.trit" -f -q &&
        run "$label: export --dequant --f32" "$TRIT" export "$W/$label.t2.trit" --dequant --f32 -o "$W/$label.f32.gguf" --force -q &&
        run "$label: llama.cpp on the F32 original" sh -c 'LOGITS_KV=F32 node "$1/logits.mjs" "$2" "$3" >"$4"' sh \
            "$BUILD/conformance" "$W/$label.f32.gguf" "$SEQS" "$W/$label.f32.jsonl"
}
# quant LABEL FTYPE TYPES: TYPES are container types that must appear (the blocks were kept)
quant() {
    label=$1 q=$2 types=$3
    p=$W/$label-$q
    run "$label $q: llama.cpp quantize" "$LQ" "$LIB" "$W/$label.f32.gguf" "$p.gguf" 1 "$q" || return
    run "$label $q: trit convert" "$TRIT" convert "$p.gguf" -o "$p.trit" -f -q || return
    gs=$(wc -c <"$p.gguf") ts=$(wc -c <"$p.trit")
    "$TRIT" inspect "$p.trit" >"$p.inspect" 2>&1
    missing=
    for t in $types; do grep -q " $t " "$p.inspect" || missing="$missing $t"; done
    if awk -v g="$gs" -v t="$ts" -v r="$RATIO" 'BEGIN { exit !(t <= g * r) }' && [ -z "$missing" ]; then
        echo "PASS  $label $q: container $ts bytes / GGUF $gs bytes = $(awk -v g="$gs" -v t="$ts" 'BEGIN { printf "%.3f", t / g }') (<= $RATIO), holds$(echo " $types")"
    else
        echo "FAIL  $label $q: container $ts bytes / GGUF $gs bytes (limit $RATIO x)${missing:+, missing types:$missing}"
        fail=$((fail + 1))
    fi
    run "$label $q: trit verify" "$TRIT" verify "$p.trit" || :
    run "$label $q: trit export" "$TRIT" export "$p.trit" -o "$p.back.gguf" --force -q &&
        { node "$BUILD/conformance/blkcheck.mjs" same "$p.gguf" "$p.back.gguf" "$label $q" || fail=$((fail + 1)); }
    k=0
    for toks in $(echo "$SEQS" | tr ';' ' '); do
        run "$label $q: trit run --tokens $toks" "$TRIT" run "$p.trit" --tokens "$toks" -n 0 --logits "$p.run.$k.f32" || return
        k=$((k + 1))
    done
    run "$label $q: llama.cpp on the quantized GGUF" sh -c 'LOGITS_KV=F32 node "$1/logits.mjs" "$2" "$3" >"$4"' sh \
        "$BUILD/conformance" "$p.gguf" "$SEQS" "$p.jsonl" || return
    node "$BUILD/conformance/blkcheck.mjs" agree "$label $q" "$p.run" "$NSEQ" "$p.jsonl" "$W/$label.f32.jsonl" || fail=$((fail + 1))
}
dims="--embd 256 --ff 256"
if original moe-tied gguf-moe $dims; then
    quant moe-tied q4_k_m "q4_k q6_k"
    quant moe-tied q8_0 "q8_0"
    quant moe-tied q6_k "q6_k"
    quant moe-tied mxfp4_moe "mxfp4 q8_0"
fi
if original moe-untied qwen3moe $dims; then
    quant moe-untied q4_k_m "q4_k q6_k"
    quant moe-untied q8_0 "q8_0"
    quant moe-untied mxfp4_moe "mxfp4 q8_0"
fi
echo "block-quantized GGUFs: $fail failed"
[ "$fail" -eq 0 ]
