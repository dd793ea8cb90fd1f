#!/bin/sh
# tools/accuracy/run.sh - issue 15's acceptance numbers: static activation scales judged by
# accuracy (`trit eval --check`) against dynamic ones, on held-out text disjoint from the
# calibration text, for two models, each with a negative control (per-tensor scales forced on
# every site, outlier sites included). Too slow for `make test` (the second model has 110 M
# parameters); its numbers go in the README.
#
#   usage: tools/accuracy/run.sh [BUILD] [WORKDIR] [stories|moe|all]
#
# stories  stories260K (fixtures) converted with --ternarize. Text: TinyStories-like stories
#          sampled from the float stories260K itself (trit run --temp 0.8): calibration = 40
#          stories (seeds 1..40, prompt "Once upon a time"), held out = 20 others (seeds
#          101..120, prompt "One day").
# moe      trit-gen qwen3moe, 110 M parameters (embd 768, ff 768, 12 layers, 4 experts top-2,
#          vocab 4096), with planted activation outliers: 4 hidden channels whose attention /
#          FFN input norm weights are 30x (--outliers 4), and '.' (token 13) a massive-
#          activation token (--massive-token 13, 100x in those channels). Text: calibration =
#          /usr/share/common-licenses/GPL-3, held out = /usr/share/common-licenses/Apache-2.0.
# Exit status: 0 when every static model is within the bound and every control is outside.
set -u
B=${1:-build}
W=${2:-/tmp/trit-accuracy}
WHICH=${3:-all}
FIX=${TRIT_FIXTURES:-../shared/fixtures}
THREADS=${THREADS:-2}
# On a busy machine: only the first CAL_MAX calibration and EVAL_MAX held-out tokens (0 = all)
CAL_MAX=${CAL_MAX:-0}
EVAL_MAX=${EVAL_MAX:-0}
# Modes judged beside float in the main evaluation (block adds a context; drop it on a busy machine)
EVAL_MODES=${EVAL_MODES:-dynamic,block,static}
calmax() { [ "$CAL_MAX" -gt 0 ] && echo "--max-tokens $CAL_MAX"; }
evalmax() { [ "$EVAL_MAX" -gt 0 ] && echo "--max-tokens $EVAL_MAX"; }
mkdir -p "$W"
fail=0

# judge MODEL.trit CAL_TEXT HELD_TEXT NAME [int8]: calibrate (rule), eval --check; with int8,
# also the rule limited to 8 bits (--max-bits 8: reported, not judged); then the control
judge() {
    m=$1 cal=$2 held=$3 name=$4 int8=${5:-}
    if [ -n "$int8" ]; then
        echo "== $name: 8 bits only (--max-bits 8), for comparison"
        "$B/trit" calibrate "$m" --data "$cal" -o "$W/$name.int8.trit" -f --max-bits 8 --threads "$THREADS" $(calmax) >/dev/null || return 1
        "$B/trit" eval "$W/$name.int8.trit" --data "$held" --act-scales dynamic,static --threads "$THREADS" $(evalmax) || return 1
    fi
    echo "== $name: calibration (granularity and width per site)"
    "$B/trit" calibrate "$m" --data "$cal" -o "$W/$name.cal.trit" -f --threads "$THREADS" $(calmax) || return 1
    echo "== $name: accuracy on held-out text (static = the rule's choice)"
    if "$B/trit" eval "$W/$name.cal.trit" --data "$held" --act-scales "$EVAL_MODES" --check --threads "$THREADS" $(evalmax); then
        echo "RESULT $name static: within the bound"
    else
        echo "RESULT $name static: OUTSIDE the bound"; fail=1
    fi
    echo "== $name: negative control (per tensor forced on every site)"
    "$B/trit" calibrate "$m" --data "$cal" -o "$W/$name.tensor.trit" -f --granularity tensor --threads "$THREADS" $(calmax) >/dev/null || return 1
    if "$B/trit" eval "$W/$name.tensor.trit" --data "$held" --act-scales dynamic,static --check --threads "$THREADS" $(evalmax); then
        echo "RESULT $name control: within the bound (the control should fail)"; fail=1
    else
        echo "RESULT $name control: outside the bound, as it must be"
    fi
}

if [ "$WHICH" = stories ] || [ "$WHICH" = all ]; then
    "$B/trit" convert "$FIX/gguf/stories260K.gguf" -o "$W/stories-f32.trit" -f -q >/dev/null
    "$B/trit" convert "$FIX/gguf/stories260K.gguf" -o "$W/stories.trit" --ternarize -f -q >/dev/null
    : > "$W/stories-cal.txt"
    : > "$W/stories-held.txt"
    for s in $(seq 1 40); do
        "$B/trit" run "$W/stories-f32.trit" --prompt "Once upon a time" -n 256 --temp 0.8 --seed "$s" 2>/dev/null >> "$W/stories-cal.txt"
        echo >> "$W/stories-cal.txt"
    done
    for s in $(seq 101 120); do
        "$B/trit" run "$W/stories-f32.trit" --prompt "One day" -n 256 --temp 0.8 --seed "$s" 2>/dev/null >> "$W/stories-held.txt"
        echo >> "$W/stories-held.txt"
    done
    judge "$W/stories.trit" "$W/stories-cal.txt" "$W/stories-held.txt" stories int8
fi

if [ "$WHICH" = moe ] || [ "$WHICH" = all ]; then
    if [ ! -s "$W/moe.trit" ]; then
        "$B/trit-gen" qwen3moe -o "$W/moe.src" --embd 768 --ff 768 --layers 12 --vocab 4096 --heads 12 --kv-heads 4 \
            --experts 4 --experts-used 2 --outliers 4 --outlier-scale 30 --massive-token 13 --force >/dev/null || exit 1
        "$B/trit" convert "$W/moe.src" -o "$W/moe.trit" -f -q >/dev/null || exit 1
        rm -rf "$W/moe.src"
    fi
    "$B/trit" inspect "$W/moe.trit" | grep -i param
    judge "$W/moe.trit" /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/Apache-2.0 moe
fi
exit $fail
