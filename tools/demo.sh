#!/bin/sh
# make demo: the main job on a built-in model, end to end.
#   1. trit-gen writes a Qwen3-MoE-style checkpoint (sharded safetensors + index.json, BF16
#      ternary weights, byte-level BPE tokenizer) - our own synthetic "release"
#   2. trit convert turns it into a .trit container (t2 projections, zstd expert units)
#   3. trit inspect shows it; trit diff proves the conversion lossless
#   4. trit pack signs an OTA bundle; trit unpack installs it elsewhere; trit verify checks it
#   5. trit run generates tokens under an expert budget smaller than the model's experts
set -eu
B=${1:-build}
D="$B/demo"
rm -rf "$D"
mkdir -p "$D"
step() { printf '\n== %s\n' "$*"; }

step "1. a synthetic Qwen3-MoE release (trit-gen qwen3moe: 4 layers, 16 experts, 2 shards)"
"$B/trit-gen" qwen3moe -o "$D/release" --layers 4 --embd 512 --ff 256 --experts 16 --experts-used 2 \
    --heads 8 --kv-heads 2 --vocab 2048 --force
ls -l "$D/release"

step "2. trit convert"
"$B/trit" convert "$D/release" -o "$D/model.trit"

step "3. trit inspect (tensor table cut to 24 rows)"
"$B/trit" inspect "$D/model.trit" | sed -n '1,/^#/p'
"$B/trit" inspect "$D/model.trit" | sed -n '/^#/,$p' | sed -n '2,25p'

step "   trit diff release/ model.trit: values must be identical"
"$B/trit" diff "$D/release" "$D/model.trit" | tail -4

step "4. trit pack -> trit unpack -> trit verify"
"$B/trit" pack --keygen -o "$D/signing" --force
"$B/trit" pack "$D/model.trit" -o "$D/model.bundle" --model-id demo/qwen3moe-tiny --version 1 --key "$D/signing.key"
"$B/trit" unpack "$D/model.bundle" -C "$D/device" --pubkey "$D/signing.pub"
ls -l "$D/device"
"$B/trit" verify "$D/device/model.trit"

experts=$("$B/trit" inspect --json "$D/device/model.trit" | grep '"expert_units_decoded"' | tr -dc 0-9)
step "5. trit run under a 1 MiB expert budget (all experts decode to $experts bytes)"
"$B/trit" run "$D/device/model.trit" --prompt "the quick brown fox" -n 24 --expert-cache 1M --stats
