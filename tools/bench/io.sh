#!/bin/sh
# io.sh BUILD LIBLLAMA - the I/O half of `make bench`: trit's file jobs against the tools that
# do the least possible work on the same bytes, as ratios of medians of interleaved runs (one
# peer run, then one trit run, per round, so load from other work hits both alike). Sources
# and outputs live on a tmpfs (BENCH_TMP, default /dev/shm) so that fsync is free and the
# disk's write-back noise stays out. Nothing is asserted: this prints numbers.
#
#   convert   trit convert SRC -o OUT.trit         vs  cp -r SRC COPY
#             SRC: trit-gen bitnet --preset 2b4t --layers L (2B-4T packed U8 layout) and
#                  trit-gen gguf --embd 1536 --layers 24 --ff 4096 --heads 12 --kv-heads 4
#                  --vocab 32000 --tq 2 (TQ2_0 GGUF)
#   verify    trit verify M.trit                   vs  cat M.trit > /dev/null
#   pack      trit pack M.trit -o B --key K ...    vs  openssl dgst -sha256 M.trit
#   unpack    trit unpack B -C DIR --pubkey K.pub  vs  openssl dgst -sha256 M.trit
#   ternarize trit convert F32.gguf --ternarize    vs  llama_model_quantize(F32.gguf -> TQ2_0)
#             F32.gguf: trit-gen gguf --tq f32 (latent F32 projections); llama.cpp's quantizer
#             from node-llama-cpp's libllama (llama_quant.c), BENCH_THREADS threads
# Environment: BENCH_TMP (/dev/shm), BENCH_IO_RUNS (5: verify, pack, unpack),
# BENCH_CONVERT_RUNS (3), BENCH_IO_LAYERS (30: the whole 2B-4T), BENCH_F32_LAYERS (4),
# BENCH_THREADS (2), BENCH_CONTAINER (a .trit to use for verify/pack/unpack instead of the
# converted 2B-4T: the convert rows are then skipped). Results: a table on stdout and in BUILD/bench/io.txt.
set -eu
BUILD=${1:-build}
LIBLLAMA=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
TRIT=$(cd "$(dirname "$BUILD/trit")" && pwd)/trit
GEN=$(cd "$(dirname "$BUILD/trit-gen")" && pwd)/trit-gen
LLQ=$(cd "$BUILD/bench" && pwd)/llama_quant
RUNS=${BENCH_IO_RUNS:-5}
CRUNS=${BENCH_CONVERT_RUNS:-3}
LAYERS=${BENCH_IO_LAYERS:-30}
F32_LAYERS=${BENCH_F32_LAYERS:-4}
THREADS=${BENCH_THREADS:-2}
BASE=${BENCH_TMP:-/dev/shm}
[ -d "$BASE" ] || BASE=$BUILD/bench
T=$(mktemp -d "$BASE/trit-bench-io.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
OUT=$BUILD/bench/io.txt
mkdir -p "$BUILD/bench"
: >"$T/rows"

command -v openssl >/dev/null 2>&1 || { echo "bench: openssl (the command) is needed" >&2; exit 1; }

# "WALL CPU" seconds of a command (stdout and stderr dropped; CPU = user + system, from GNU
# time: on a shared machine it moves less with other work than the wall time does)
secs() {
    t0=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$T/cpu" "$@" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    echo "$t0 $t1 $(cat "$T/cpu")" | awk '{printf "%.4f %.2f\n", $2 - $1, $3 + $4}'
}
# median / range of column C of a file of "WALL CPU" lines
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
range() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk 'NR == 1 {a = $1} {b = $1} END {printf "%.2f-%.2f", a, b}'; }

# row NAME BYTES PEER_FILE TRIT_FILE: one table row from two files of times
row() {
    echo "$1|$2|$(median "$3" 1)|$(median "$4" 1)|$(range "$3" 1)|$(range "$4" 1)|$(median "$3" 2)|$(median "$4" 2)" >>"$T/rows"
}

# bench NAME BYTES RUNS PEER_CMD TRIT_CMD [PREP_CMD]: interleaved rounds; PREP_CMD runs
# (untimed) before every timed command, to clear what the last one wrote
bench() {
    name=$1 bytes=$2 n=$3 peer=$4 trit=$5 prep=${6:-true}
    : >"$T/p" && : >"$T/t"
    sh -c "$prep"
    sh -c "$peer" >/dev/null 2>&1 || true     # warm-up: page cache, libraries
    for i in $(seq 1 "$n"); do
        sh -c "$prep"
        secs sh -c "$peer" >>"$T/p"
        sh -c "$prep"
        secs sh -c "$trit" >>"$T/t"
    done
    row "$name" "$bytes" "$T/p" "$T/t"
}

size() { du -sb "$1" | cut -f1; }
CONV_T=""
"$TRIT" convert --help 2>/dev/null | grep -q -- '--threads' && CONV_T="--threads $THREADS"
PACK_T=""
"$TRIT" pack --help 2>/dev/null | grep -q -- '--threads' && PACK_T="--threads $THREADS"

if [ -n "${BENCH_CONTAINER:-}" ]; then
    echo "bench io: $BENCH_CONTAINER for verify, pack and unpack; convert rows skipped"
    cp "$BENCH_CONTAINER" "$T/m.trit"
else
echo "bench io: sources on $T (trit-gen)"
"$GEN" bitnet --preset 2b4t --layers "$LAYERS" -o "$T/bitnet" --force >/dev/null
"$GEN" gguf --embd 1536 --layers 24 --ff 4096 --heads 12 --kv-heads 4 --vocab 32000 --tq 2 -o "$T/tq2.gguf" --force >/dev/null

echo "bench io: convert vs cp ($CRUNS rounds each)"
bench "convert 2B-4T packed U8 (vs cp -r)" "$(size "$T/bitnet")" "$CRUNS" \
    "cp -r '$T/bitnet' '$T/copy'" "'$TRIT' convert '$T/bitnet' -o '$T/m.trit' -f -q $CONV_T" \
    "rm -rf '$T/copy' '$T/m.trit'"
bench "convert TQ2_0 GGUF (vs cp)" "$(size "$T/tq2.gguf")" "$CRUNS" \
    "cp '$T/tq2.gguf' '$T/copy'" "'$TRIT' convert '$T/tq2.gguf' -o '$T/g.trit' -f -q $CONV_T" \
    "rm -rf '$T/copy' '$T/g.trit'"
# the last round's container stays: the input of verify, pack and unpack
rm -rf "$T/tq2.gguf" "$T/copy" "$T/g.trit" "$T/bitnet"
fi
M=$T/m.trit
MB=$(size "$M")

echo "bench io: verify vs cat, pack and unpack vs openssl dgst -sha256 ($RUNS rounds each)"
"$TRIT" pack --keygen -o "$T/k" >/dev/null
bench "verify (vs cat)" "$MB" "$RUNS" "cat '$M' > /dev/null" "'$TRIT' verify '$M'"
bench "pack, signed (vs openssl dgst -sha256)" "$MB" "$RUNS" "openssl dgst -sha256 '$M'" \
    "'$TRIT' pack '$M' -o '$T/b.bundle' --model-id bench --version 1 --key '$T/k.key' --force $PACK_T" "rm -f '$T/b.bundle'"
"$TRIT" pack "$M" -o "$T/b.bundle" --model-id bench --version 1 --key "$T/k.key" --force >/dev/null
bench "unpack (vs openssl dgst -sha256)" "$MB" "$RUNS" "openssl dgst -sha256 '$M'" \
    "'$TRIT' unpack '$T/b.bundle' -C '$T/inst' --pubkey '$T/k.pub' $PACK_T" "rm -rf '$T/inst'"
rm -rf "$T/inst" "$T/b.bundle"
openssl_line=$(openssl version)

if [ -n "$LIBLLAMA" ] && [ -f "$LIBLLAMA" ]; then
    echo "bench io: F32 -> ternary vs llama.cpp's llama_model_quantize (TQ2_0, $CRUNS rounds)"
    rm -f "$M"
    "$GEN" gguf --tq f32 --embd 1536 --layers "$F32_LAYERS" --ff 4096 --heads 12 --kv-heads 4 --vocab 32000 \
        -o "$T/f32.gguf" --force >/dev/null
    bench "F32 -> ternary (vs llama.cpp quantize TQ2_0)" "$(size "$T/f32.gguf")" "$CRUNS" \
        "'$LLQ' '$LIBLLAMA' '$T/f32.gguf' '$T/q.gguf' $THREADS" \
        "'$TRIT' convert '$T/f32.gguf' --ternarize -o '$T/f.trit' -f -q $CONV_T" "rm -f '$T/q.gguf' '$T/f.trit'"
else
    echo "bench io: no libllama found: the llama.cpp quantizer row is skipped" >&2
fi

{
    echo "I/O jobs (tmpfs $BASE, page cache warm, medians of interleaved rounds; load $(cut -d' ' -f1-3 /proc/loadavg))"
    printf '  %-46s %8s %8s %8s %7s %17s %8s %8s %7s\n' "job (peer)" "MB" "peer s" "trit s" "ratio" "range peer|trit" \
        "peer cpu" "trit cpu" "ratio"
    while IFS='|' read -r name bytes pm tm pr tr pc tc; do
        printf '  %-46s %8.1f %8.3f %8.3f %6.2fx %17s %8.2f %8.2f %6.2fx\n' "$name" "$(echo "$bytes" | awk '{print $1 / 1e6}')" \
            "$pm" "$tm" "$(echo "$pm $tm" | awk '{print $2 / $1}')" "$pr|$tr" "$pc" "$tc" \
            "$(echo "$pc $tc" | awk '{print ($1 > 0 ? $2 / $1 : 0)}')"
    done <"$T/rows"
    echo "  wall s: medians; cpu s: user + system, medians. ratio = trit / peer (lower is better; < 1: trit is faster)."
    echo "  $openssl_line; trit convert ${CONV_T:-(no --threads option)}; pack and unpack ${PACK_T:-(no --threads option)};"
    echo "  verify uses every core (--threads default); llama.cpp quantizer with nthread $THREADS"
    echo "  sources: trit-gen bitnet --preset 2b4t --layers $LAYERS; trit-gen gguf --embd 1536 --layers 24 --ff 4096 --heads 12"
    echo "  --kv-heads 4 --vocab 32000 --tq 2; F32: the same with --tq f32 --layers $F32_LAYERS"
} | tee "$OUT"
