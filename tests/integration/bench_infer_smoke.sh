#!/usr/bin/env bash
# bench/infer/compare.py end to end on the tiny CNN, one short run per runtime: PyTorch always,
# ONNX Runtime when bench/node_modules holds onnxruntime-node (the test never installs it), and
# faasml when `faasml infer` is built. Every runtime that ran must have produced a warm p50, a cold
# start, a peak RSS and an output within 1e-4 of PyTorch's reference; the table must print.
set -euo pipefail
src=${FM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
models=${FAASML_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/faasml/models}
/usr/bin/python3 -W ignore "$src/tools/models/export.py" --models tiny-cnn --out "$models" \
    2>"$tmp/export.log" || { cat "$tmp/export.log"; exit 1; }

runtimes=torch
[ -d "$src/bench/node_modules/onnxruntime-node" ] && command -v node >/dev/null && runtimes+=,ort
runtimes+=,faasml  # compare.py skips it (with a message) while `faasml infer` is not built
timeout 300 /usr/bin/python3 "$src/bench/infer/compare.py" --models tiny-cnn \
    --runtimes "$runtimes" --runs 1 --iters 5 --budget 0.1 --models-dir "$models" \
    --faasml "${FAASML:-$src/build/faasml}" --csv "$tmp/out.csv" >"$tmp/table" 2>"$tmp/log" \
    || { cat "$tmp/log"; exit 1; }
grep -Eq '^tiny-cnn +fp32 +1 torch' "$tmp/table" || { cat "$tmp/table" "$tmp/log"; exit 1; }
/usr/bin/python3 - "$tmp/out.csv" "$runtimes" "$tmp/log" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
skipped = "skipping faasml" in open(sys.argv[3]).read()
want = {r for r in sys.argv[2].split(",") if not (r == "faasml" and skipped)}
got = {(r["runtime"], r["batch"]) for r in rows}
assert got == {(r, b) for r in want for b in ("1", "8")}, (got, want)
for r in rows:
    what = f"{r['runtime']} b{r['batch']}"
    assert not r["note"].startswith(("ort exited", "torch exited", "faasml")), (what, r["note"])
    for k in ("p50_ms", "p99_ms", "cold_ms", "peak_rss_mb", "rel_err"):
        assert r[k] not in ("", None), (what, k, r)
    assert 0 < float(r["p50_ms"]) <= float(r["p99_ms"]), (what, r)
    assert float(r["peak_rss_mb"]) > 1 and float(r["cold_ms"]) > 0, (what, r)
    assert float(r["rel_err"]) <= 1e-4, (what, r["rel_err"])
print(f"bench_infer_smoke: {len(rows)} rows ok ({', '.join(sorted(want))})")
PY
