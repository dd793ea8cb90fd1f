#!/bin/sh
# make demo: the main job on an embedded default model.
# Until `trit convert` lands this writes a small ternary MoE container straight through the
# format library (trit-gen's `trit` layout) and inspects it.
set -eu
B=${1:-build}
OUT="$B/demo"
mkdir -p "$OUT"
echo "== writing a ternary MoE container through libtrit: $OUT/demo.trit"
"$B/trit-gen" trit -o "$OUT/demo.trit" --layers 2 --experts 8 --experts-used 2 --force
echo
echo "== trit inspect $OUT/demo.trit"
"$B/trit" inspect "$OUT/demo.trit"
echo
echo "== trit inspect --stats (first tensors; every projection is exactly ternary)"
"$B/trit" inspect --stats "$OUT/demo.trit" | sed -n '/^#/,/^$/p' | head -16
