#!/bin/sh
# layers.sh - `make layers`: every quoted #include of every production source must name a header
# its module may use (layers.mk). Exit 0 when the tree holds the layering, 1 with one line per
# offending include (file:line: ...), 2 on usage errors.
#   sh tools/layers.sh [--root DIR] [--table FILE]
set -u
root=.
table=
while [ $# -gt 0 ]; do
    case "$1" in
    --root) root=$2; shift 2 ;;
    --table) table=$2; shift 2 ;;
    *) echo "usage: layers.sh [--root DIR] [--table FILE]" >&2; exit 2 ;;
    esac
done
[ -n "$table" ] || table=$root/layers.mk
[ -r "$table" ] || { echo "layers.sh: cannot read $table" >&2; exit 2; }
case "$table" in /*) ;; *) table=$(pwd)/$table ;; esac

# Every header's owner: the top-level folder it lives in (tests/ included, so that including a
# test header is named as such).
owners=$(mktemp) || exit 2
trap 'rm -f "$owners"' EXIT
(cd "$root" && find format source runner convert calibrate export inspect verify pack cli tests \
    -name '*.h' 2>/dev/null | sort | awk -F/ '{ print $NF " " $1 }') > "$owners"

files=$(cd "$root" && find format source runner convert calibrate export inspect verify pack cli \
    \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort)

printf '%s\n' "$files" | (cd "$root" && awk -v table="$table" -v owners="$owners" '
BEGIN {
    while ((getline line < table) > 0) {
        if (line ~ /^(LAYER|ONLY)_[a-z_]+[ \t]*:=/) {
            split(line, kv, ":=")
            key = kv[1]; gsub(/[ \t]/, "", key)
            val = kv[2]; gsub(/^[ \t]+|[ \t]+$/, "", val)
            tab[key] = val
        }
    }
    while ((getline line < owners) > 0) { split(line, p, " "); if (!(p[1] in owner)) owner[p[1]] = p[2] }
    bad = 0
}
{
    file = $0
    if (file == "") next
    split(file, parts, "/"); mod = parts[1]
    if (!(("LAYER_" mod) in tab)) { printf "%s: module %s has no LAYER_%s in %s\n", file, mod, mod, table; bad++; next }
    allowed = " " tab["LAYER_" mod] " "
    ln = 0
    while ((getline line < file) > 0) {
        ln++
        if (line !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
        h = line; sub(/^[^"]*"/, "", h); sub(/".*$/, "", h)
        base = h; sub(/^.*\//, "", base)
        if (!(base in owner)) continue          # a generated or system-style header: not ours
        o = owner[base]
        if (o == "tests") { printf "%s:%d: includes \"%s\": production code never includes tests/\n", file, ln, h; bad++; continue }
        if (index(allowed, " " o " ") == 0) {
            printf "%s:%d: includes \"%s\" (%s/): module %s may include only %s\n", file, ln, h, o, mod, tab["LAYER_" mod]; bad++; continue
        }
        if (o != mod && (("ONLY_" mod "_" o) in tab) && index(" " tab["ONLY_" mod "_" o] " ", " " base " ") == 0) {
            printf "%s:%d: includes \"%s\": module %s may take only %s from %s/\n", file, ln, h, mod, tab["ONLY_" mod "_" o], o; bad++
        }
    }
    close(file)
}
END {
    if (bad) { printf "layers: %d include(s) break the layering (%s)\n", bad, table; exit 1 }
    printf "layers: ok (%d files)\n", NR
}')
