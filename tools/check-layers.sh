#!/usr/bin/env bash
# The layering, checked: reads every #include "..." under src/ and fails when a module includes a
# header it may not. A module may include its own headers and the public headers (any but
# *_int.h) of the modules listed for it below. This table is the one statement of the allowed
# graph; docs/architecture.md ("The allowed dependencies") shows the same table and says why.
#   tools/check-layers.sh [source-root]     exit 0: clean; 1: violations (listed); 2: usage
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
[ -d "$root/src" ] || { echo "check-layers: no src/ under '$root'" >&2; exit 2; }

declare -A allowed=(
    [core]=""
    [store]="core"
    [cost]="core"
    [policy]="core"
    [infer]="core"
    [load]="core store"
    [fn]="core infer"
    [analyze]="core cost store"
    [sim]="core cost load policy store"
    [calib]="core infer store"
    [platform]="core cost fn policy store"
    [plan]="core analyze cost load policy sim store"
    [package]="core platform policy"
    [cli]="core analyze calib cost fn infer load package plan platform policy sim store"
)

bad=0
for dir in "$root"/src/*/; do
    m=$(basename "$dir")
    if [ -z "${allowed[$m]+set}" ]; then
        echo "src/$m: module not in the layer table of tools/check-layers.sh" >&2
        bad=$((bad + 1))
        continue
    fi
    for f in "$dir"*.c "$dir"*.h; do
        [ -e "$f" ] || continue
        rel=${f#"$root"/}
        while IFS=: read -r line inc; do
            inc=${inc#*\"}
            inc=${inc%%\"*}
            if [[ $inc != */* ]]; then # a header beside the file: must be the module's own
                [ -e "$dir$inc" ] && continue
                [ "$inc" = fm_commit.h ] && continue # generated into the build tree (the build's commit)
                echo "$rel:$line: '$inc' is not a header of module '$m'" >&2
                bad=$((bad + 1))
                continue
            fi
            dep=${inc%%/*}
            [ "$dep" = "$m" ] && continue
            if [[ " ${allowed[$m]} " != *" $dep "* ]]; then
                echo "$rel:$line: module '$m' may not include '$inc' (it may use: ${allowed[$m]:-nothing})" >&2
                bad=$((bad + 1))
            elif [[ $inc == *_int.h ]]; then
                echo "$rel:$line: '$inc' is private to module '$dep'" >&2
                bad=$((bad + 1))
            fi
        done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
    done
done
if [ "$bad" -gt 0 ]; then
    echo "check-layers: $bad include(s) break the layering" >&2
    exit 1
fi
echo "check-layers: ok ($(ls -d "$root"/src/*/ | wc -l) modules)"
