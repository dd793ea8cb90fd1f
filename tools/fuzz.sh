#!/bin/sh
# Build each tests/fuzz/fuzz_<name>.c as a libFuzzer binary (clang) and run it for
# FUZZ_SECONDS on a scratch copy of tests/fuzz/corpus/<name>. New crashes are left in
# build/fuzz/ as crash-* files: add each one to the corpus once fixed (style R16).
# Usage: tools/fuzz.sh [name ...]   (default: every target)
set -eu
CC=${FUZZ_CC:-clang}
SECS=${FUZZ_SECONDS:-30}
LIBS=${APP_LIBS:-"-lzstd -lxxhash -lcjson -larchive -lm -lpthread"}
B=build/fuzz
mkdir -p "$B"
SRCS=$(ls format/*.c source/*.c convert/*.c calibrate/*.c export/*.c inspect/*.c verify/*.c pack/*.c runner/*.c tests/gen/*.c 2>/dev/null |
       grep -v -e '^runner/main.c$' -e '^tests/gen/main.c$' || true)
FLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -O1 -g -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -Iformat -Isource -Iconvert -Icalibrate -Iexport -Iinspect -Iverify -Ipack -Irunner -Itests -Icli
       $(pkg-config --cflags libzstd libxxhash libcjson libarchive 2>/dev/null)"
names=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_\(.*\)\.c|\1|')}
for n in $names; do
    echo "fuzz: building $n" >&2
    # shellcheck disable=SC2086
    $CC $FLAGS -DFUZZ_FN=trit_fuzz_$n tests/fuzz/libfuzzer_entry.c tests/fuzz/fuzz_$n.c $SRCS \
        -o "$B/fuzz_$n" $LIBS
    rm -rf "$B/corpus-$n"
    mkdir -p "$B/corpus-$n"
    [ -d "tests/fuzz/corpus/$n" ] && cp tests/fuzz/corpus/$n/* "$B/corpus-$n/" 2>/dev/null || true
    echo "fuzz: running $n for ${SECS}s" >&2
    (cd "$B" && "./fuzz_$n" -max_total_time="$SECS" -max_len=524288 -print_final_stats=1 "corpus-$n")
done
