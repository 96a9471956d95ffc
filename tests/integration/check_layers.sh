#!/usr/bin/env bash
# tools/check-layers.sh passes on the tree, and fails naming the file, line and rule on a copy
# with a forbidden include (core reaching up into store, a private header of another module, a
# module missing from the table).
set -euo pipefail
SRC=${FM_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$SRC/tools/check-layers.sh" "$SRC" >/dev/null

mkdir -p "$tmp/t"
cp -r "$SRC/src" "$tmp/t/src"
printf '#include "store/store.h"\n' >>"$tmp/t/src/core/clock.c"
if "$SRC/tools/check-layers.sh" "$tmp/t" 2>"$tmp/err1"; then echo "FAIL: core -> store passed" >&2; exit 1; fi
grep -q "src/core/clock.c:[0-9]*: module 'core' may not include 'store/store.h'" "$tmp/err1" \
    || { cat "$tmp/err1" >&2; exit 1; }

rm -rf "$tmp/t/src" && cp -r "$SRC/src" "$tmp/t/src"
printf '#include "fn/fn_int.h"\n' >>"$tmp/t/src/platform/meter.c"
if "$SRC/tools/check-layers.sh" "$tmp/t" 2>"$tmp/err2"; then echo "FAIL: private header passed" >&2; exit 1; fi
grep -q "'fn/fn_int.h' is private to module 'fn'" "$tmp/err2" || { cat "$tmp/err2" >&2; exit 1; }

rm -rf "$tmp/t/src" && cp -r "$SRC/src" "$tmp/t/src"
mkdir "$tmp/t/src/newmod" && printf 'int x;\n' >"$tmp/t/src/newmod/newmod.c"
if "$SRC/tools/check-layers.sh" "$tmp/t" 2>"$tmp/err3"; then echo "FAIL: unknown module passed" >&2; exit 1; fi
grep -q "src/newmod: module not in the layer table" "$tmp/err3" || { cat "$tmp/err3" >&2; exit 1; }
echo ok
