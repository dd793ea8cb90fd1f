#!/bin/sh
# same-bytes.sh OLD_BUILD NEW_BUILD - convert every trit-gen layout with two builds of trit and
# compare the containers byte for byte (a refactor must not change a single output byte).
# The layouts are generated once, by NEW_BUILD's trit-gen. Exit 0 when every pair is identical.
set -u
[ $# -eq 2 ] || { echo "usage: tools/same-bytes.sh OLD_BUILD NEW_BUILD" >&2; exit 2; }
OLD=$1 NEW=$2
W=$(mktemp -d) || exit 2
trap 'rm -rf "$W"' EXIT
fail=0
for L in $("$NEW/trit-gen" --list | awk '{print $1}'); do
    [ "$L" = trit ] && continue                       # already a container
    ext=""; case $L in gguf*) ext=.gguf ;; esac
    "$NEW/trit-gen" "$L" -o "$W/$L$ext" >/dev/null 2>&1 || { echo "$L: trit-gen failed"; fail=1; continue; }
    extra=""; [ "$L" = latent ] && extra=--ternarize
    "$OLD/trit" convert "$W/$L$ext" -o "$W/$L.old.trit" $extra >/dev/null 2>&1; a=$?
    "$NEW/trit" convert "$W/$L$ext" -o "$W/$L.new.trit" $extra >/dev/null 2>&1; b=$?
    if [ $a -ne $b ]; then echo "$L: exit $a (old) vs $b (new)"; fail=1; continue; fi
    if [ $a -ne 0 ]; then echo "$L: both refuse (exit $a)"; continue; fi
    if cmp -s "$W/$L.old.trit" "$W/$L.new.trit"; then
        echo "$L: identical, $(wc -c < "$W/$L.new.trit") bytes, sha256 $(sha256sum < "$W/$L.new.trit" | cut -c1-16)"
    else
        echo "$L: DIFFERENT"; fail=1
    fi
done
exit $fail
