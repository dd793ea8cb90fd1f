#!/bin/sh
# Build each tests/fuzz/fuzz_<name>.c as a libFuzzer binary (clang) and run it for
# FUZZ_SECONDS on a scratch copy of tests/fuzz/corpus/<name>. New crashes are left in
# build/fuzz/ as crash-* files: add each one to the corpus once fixed (style R16).
# The library sources are compiled once (build/fuzz/obj, -fsanitize=fuzzer-no-link) and each
# target is only linked against them; a crashing target does not stop the others. At the end
# one line per target: executions, corpus size, crashes; the exit status is 1 if any crashed.
# Usage: tools/fuzz.sh [name ...]   (default: every target)
set -eu
CC=${FUZZ_CC:-clang}
SECS=${FUZZ_SECONDS:-30}
LIBS=${APP_LIBS:-"-lzstd -lxxhash -lcjson -larchive -lm -lpthread"}
B=build/fuzz
mkdir -p "$B/obj"
SRCS=$(ls format/*.c source/*.c convert/*.c calibrate/*.c export/*.c inspect/*.c verify/*.c pack/*.c runner/*.c tests/gen/*.c 2>/dev/null |
       grep -v -e '^runner/main.c$' -e '^tests/gen/main.c$' || true)
FLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -O1 -g
       -fno-sanitize-recover=all -Iformat -Isource -Iconvert -Icalibrate -Iexport -Iinspect -Iverify -Ipack -Irunner -Itests -Icli
       $(pkg-config --cflags libzstd libxxhash libcjson libarchive 2>/dev/null)"
SAN=address,undefined
# shared objects: rebuilt when the source or any header is newer than the object
newest_h=$(ls -t format/*.h source/*.h convert/*.h calibrate/*.h export/*.h inspect/*.h verify/*.h pack/*.h runner/*.h tests/gen/*.h 2>/dev/null | head -1)
OBJS=""
for s in $SRCS; do
    o="$B/obj/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')"
    if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then
        echo "fuzz: compiling $s" >&2
        # shellcheck disable=SC2086
        $CC $FLAGS -fsanitize=fuzzer-no-link,$SAN -c "$s" -o "$o"
    fi
    OBJS="$OBJS $o"
done
names=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_\(.*\)\.c|\1|')}
summary=""
failed=0
for n in $names; do
    echo "fuzz: linking $n" >&2
    # shellcheck disable=SC2086
    $CC $FLAGS -fsanitize=fuzzer,$SAN -DFUZZ_FN=trit_fuzz_$n tests/fuzz/libfuzzer_entry.c tests/fuzz/fuzz_$n.c $OBJS \
        -o "$B/fuzz_$n" $LIBS
    rm -rf "$B/corpus-$n" "$B/crashes-$n"
    mkdir -p "$B/corpus-$n" "$B/crashes-$n"
    [ -d "tests/fuzz/corpus/$n" ] && cp tests/fuzz/corpus/$n/* "$B/corpus-$n/" 2>/dev/null || true
    echo "fuzz: running $n for ${SECS}s" >&2
    st=0
    (cd "$B" && "./fuzz_$n" -max_total_time="$SECS" -max_len=524288 -print_final_stats=1 \
        -artifact_prefix="crashes-$n/" "corpus-$n") >"$B/log-$n.txt" 2>&1 || st=$?
    tail -n 12 "$B/log-$n.txt" >&2
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/log-$n.txt" | tail -1)
    crashes=$(ls "$B/crashes-$n" | wc -l)
    [ "$st" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes="exit $st"
    [ "$st" -ne 0 ] && failed=1
    summary="$summary$(printf '%-20s execs %-10s corpus %-6s crashes %s' "$n" "${execs:-?}" "$(ls "$B/corpus-$n" | wc -l)" "$crashes")
"
done
printf 'fuzz summary (%ss each):\n%s' "$SECS" "$summary"
exit $failed
