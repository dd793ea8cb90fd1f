#!/bin/sh
# bench.sh BUILD - `make bench`: speed of the runner against real peers, run here in the same
# process tree, on this machine. Nothing is asserted: this prints numbers (tests never time).
#
#   model    trit-gen gguf --preset 2b4t --layers 8: BitNet b1.58 2B4T shapes (hidden 2560,
#            FFN 6912, 20 heads / 5 KV heads, vocabulary 128256, tied F16 embeddings) with 8 of
#            its 30 layers: 0.88 B parameters, ~0.8 GB. `trit convert` -> model.trit; `trit
#            export` -> model.tq2.gguf (TQ2_0) for llama.cpp. Arch bitnet with SiLU, which is
#            what mainline llama.cpp computes, so both run the same network.
#   speed    for THREADS in 1 2: RUNS rounds, each one run of each (interleaved, so that load
#            from other work hits both alike), medians reported:
#              runner     trit run model.trit --tokens P -n GEN --ignore-eos --threads T --json --stats
#                         (one warm-up run per thread count first)
#              llama.cpp  llama_bench.mjs (node-llama-cpp's CPU build, offline) on model.tq2.gguf,
#                         one warm-up + one timed run per round
#            prefill = PROMPT tokens in one evaluation; decode = GEN - 1 tokens one at a time.
#   kernels  kernbench (C): every kernel set this CPU has on t2 rows, F16 and int8 heads.
#   memory   membw (C): streaming read (64-bit sum) and memcpy of 1 GiB at 1 and 2 threads,
#            median of 5; against it the runner's weight bytes per decoded token (--json).
#   peers    cat model.trit > /dev/null and cp model.trit (page cache, median of 3);
#            expert units: unitbench (trit_reader_unit_read over every unit of a generated
#            Qwen3-MoE container: pread + xxh3 + zstd decode) vs zstd -b1 on the same decoded
#            bytes cut at the unit size (the container's level and frame size).
#   I/O      io.sh: convert vs cp, verify vs cat, pack/unpack vs openssl dgst -sha256, F32 ->
#            ternary vs llama.cpp's llama_model_quantize (node-llama-cpp's libllama)
# Results: a table on stdout and in BUILD/bench/results.txt (raw JSON beside it), the I/O table
# after it (BUILD/bench/io.txt).
# Environment: BENCH_RUNS (5), BENCH_PROMPT (128), BENCH_GEN (33), BENCH_LAYERS (8);
# BENCH_ONLY=io or BENCH_ONLY=runner runs one half; io.sh lists its own.
set -eu
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
B=$BUILD/bench
TRIT=$BUILD/trit
GEN=$BUILD/trit-gen
RUNS=${BENCH_RUNS:-5}
ONLY=${BENCH_ONLY:-}
PROMPT=${BENCH_PROMPT:-128}
NGEN=${BENCH_GEN:-33}
LAYERS=${BENCH_LAYERS:-8}
NODE_DIR=$BUILD/conformance      # node-llama-cpp lives here (shared with make conformance)
mkdir -p "$B"
t_start=$(date +%s)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1 || ! command -v zstd >/dev/null 2>&1; then
    echo "bench: node, npm and zstd are needed (apt-get install nodejs npm zstd)" >&2
    exit 1
fi
if [ ! -f "$NODE_DIR/node_modules/node-llama-cpp/package.json" ] ||
   ! cmp -s "$HERE/../conformance/package.json" "$NODE_DIR/package.json"; then
    echo "bench: npm install node-llama-cpp into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    cp "$HERE/../conformance/package.json" "$NODE_DIR/package.json"
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
# node resolves node-llama-cpp from the script's folder
cp "$HERE/llama_bench.mjs" "$HERE/report.mjs" "$NODE_DIR/"
# llama.cpp's shared library for the quantizer row: the CPU build node-llama-cpp ships
LIBLLAMA=$(find "$NODE_DIR/node_modules/@node-llama-cpp" -path '*linux-x64/bins/linux-x64/libllama*.so' 2>/dev/null | head -1)
[ -n "$LIBLLAMA" ] && LIBLLAMA=$(cd "$(dirname "$LIBLLAMA")" && pwd)/$(basename "$LIBLLAMA")

if [ "$ONLY" = io ]; then
    sh "$HERE/io.sh" "$BUILD" "$LIBLLAMA"
    exit 0
fi

# wall-clock seconds of a command, to the millisecond
secs() {
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{printf "%.4f\n", $2 - $1}'
}

echo "bench: models (trit-gen, trit convert, trit export)"
# regenerated when missing, for other options, or when trit / trit-gen were rebuilt since
if [ ! -f "$B/model.trit" ] || [ ! -f "$B/model.tq2.gguf" ] || [ "$(cat "$B/model.opts" 2>/dev/null)" != "2b4t $LAYERS" ] ||
   [ "$GEN" -nt "$B/model.trit" ] || [ "$TRIT" -nt "$B/model.trit" ]; then
    rm -f "$B/model.opts"
    "$GEN" gguf --preset 2b4t --layers "$LAYERS" -o "$B/src.gguf" --force
    "$TRIT" convert "$B/src.gguf" -o "$B/model.trit" -f -q
    "$TRIT" export "$B/model.trit" -o "$B/model.tq2.gguf" --force -q
    rm -f "$B/src.gguf"
    echo "2b4t $LAYERS" >"$B/model.opts"
fi
if [ ! -f "$B/moe.trit" ] || [ "$GEN" -nt "$B/moe.trit" ] || [ "$TRIT" -nt "$B/moe.trit" ]; then
    "$GEN" gguf-moe --layers 2 --embd 2048 --ff 768 --experts 32 --experts-used 4 --heads 16 --kv-heads 4 \
        -o "$B/moe.gguf" --force
    "$TRIT" convert "$B/moe.gguf" -o "$B/moe.trit" -f -q
    rm -f "$B/moe.gguf"
fi
"$TRIT" inspect --json "$B/model.trit" >"$B/model.inspect.json"

P=$(seq 1000 $((1000 + PROMPT - 1)) | tr '\n' ',' | sed 's/,$//')

echo "bench: memory bandwidth (membw, 1 GiB, 1 and 2 threads)"
"$B/membw" 1 >"$B/membw.1.json"
"$B/membw" 2 >"$B/membw.2.json"

echo "bench: kernel sets on the decode shapes (kernbench, GB/s of weights; the kernels alone)"
"$B/kernbench" >"$B/kernbench.jsonl"

echo "bench: peers: cat and cp of model.trit, expert unit decode vs zstd -b"
cat "$B/model.trit" >/dev/null
: >"$B/cat.txt"
: >"$B/cp.txt"
for i in 1 2 3; do
    secs sh -c "cat '$B/model.trit' >/dev/null" >>"$B/cat.txt"
    secs cp "$B/model.trit" "$B/copy.tmp" >>"$B/cp.txt"
    rm -f "$B/copy.tmp"
done
"$B/unitbench" "$B/moe.trit" "$B/units.bin" 5 >"$B/unitbench.json"
unit=$(sed 's/.*"max_unit":\([0-9]*\).*/\1/' "$B/unitbench.json")
zstd -b1 -B"$unit" -i3 "$B/units.bin" 2>&1 | tr '\r' '\n' | grep 'MB/s, *[0-9.]* MB/s' | tail -1 >"$B/zstd.txt"
rm -f "$B/units.bin"

# Rounds interleave the two (runner run, then a llama.cpp run) so that load from other work on
# this machine hits both alike; the load average is recorded with the results.
uptime | sed 's/.*load average/load average at start/' >"$B/load.txt"
for T in 1 2; do
    echo "bench: $T thread(s): runner warm-up, then $RUNS rounds of runner + llama.cpp (prompt $PROMPT, generate $NGEN)"
    "$TRIT" run "$B/model.trit" --tokens "$P" -n "$NGEN" --ignore-eos --threads "$T" --json >/dev/null
    : >"$B/runner.$T.jsonl"
    : >"$B/llama.$T.jsonl"
    for i in $(seq 1 "$RUNS"); do
        out=$("$TRIT" run "$B/model.trit" --tokens "$P" -n "$NGEN" --ignore-eos --threads "$T" --json --stats)
        # one line per run (trit run --json spreads its object over lines)
        printf '%s\n' "$(printf '%s' "$out" | tr -d '\n')" >>"$B/runner.$T.jsonl"
        # one timed run after its own warm-up run, per round
        node "$NODE_DIR/llama_bench.mjs" "$B/model.tq2.gguf" "$T" "$P" "$NGEN" 1 >>"$B/llama.$T.jsonl"
    done
done
uptime | sed 's/.*load average/load average at end/' >>"$B/load.txt"

zcmd="zstd -b1 -B$unit -i3 units.bin"
node "$NODE_DIR/report.mjs" "$B" "$(( $(date +%s) - t_start ))" "$P" "$NGEN" "$RUNS" "$zcmd" | tee "$B/results.txt"
echo "kernel sets (tools/bench/kernbench.c; best and median GB/s of weight bytes):" | tee -a "$B/results.txt"
tee -a "$B/results.txt" <"$B/kernbench.jsonl"
[ "$ONLY" = runner ] || sh "$HERE/io.sh" "$BUILD" "$LIBLLAMA"
