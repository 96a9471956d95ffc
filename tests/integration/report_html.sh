#!/usr/bin/env bash
# faasml report end to end: a small recorded results database (written through the store by
# `test_analyze --fixture`), the terminal table, JSON and CSV, bad input, and the HTML report
# checked in headless Chromium: every figure must load, and the screenshot must show them.
set -euo pipefail
FAASML=${FAASML:?path of the faasml binary}
SRC=${FM_SOURCE_DIR:?}
BUILD=${FM_BUILD_DIR:?}
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_fail() { # CODE WORDS -- command...: the command must exit CODE and say WORDS on stderr
    local code=$1 words=$2 rc=0
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" -eq "$code" ] || { cat "$tmp/err"; fail "'$*' exited $rc, expected $code"; }
    grep -q -- "$words" "$tmp/err" || { cat "$tmp/err"; fail "'$*' did not say '$words'"; }
}

db=$tmp/results.db
"$BUILD/test_analyze" --fixture "$db" || fail "cannot write the fixture database"

# --- terminal table, JSON, CSV -------------------------------------------------------------
"$FAASML" report "$db" >"$tmp/table.txt" 2>"$tmp/err" || { cat "$tmp/err"; fail "report"; }
for want in "lambda-1024 (#1)" "gcf-1024 (#2)" "sagemaker-m5 (#3)" "ec2-g4dn (#4)" \
            "empty-run (#5)" "all-throttled (#6)" "no successful requests" "SLO 300 ms"; do
    grep -qF -- "$want" "$tmp/table.txt" || { cat "$tmp/table.txt"; fail "table lacks '$want'"; }
done
"$FAASML" report "$db" --costs >"$tmp/costs.txt" 2>"$tmp/err" || fail "report --costs"
grep -qF "(run's own)" "$tmp/costs.txt" || fail "--costs marks each run's own catalogue entry"
! grep -qiE '(^|[^a-z])(nan|inf)([^a-z]|$)' "$tmp/table.txt" || fail "table shows NaN or inf"

"$FAASML" report "$db" --format json --snapshot 2021 >"$tmp/r.json"
python3 - "$tmp/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]), parse_constant=lambda c: sys.exit(f"non-JSON number {c}"))
runs = {x["name"]: x for x in r["runs"]}
assert r["snapshot"] == "2021" and len(runs) == 6, runs.keys()
lam = runs["lambda-1024"]
assert lam["cost"]["offer"] == "aws-lambda-x86" and lam["cost"]["usd"] > 0
assert any(c["offer"] == "aws-lambda-x86-100ms" for c in lam["cost_elsewhere"])
p99 = lam["metrics"]["latency_p99_ms"]
assert p99["ci"][0] <= p99["value"] <= p99["ci"][1], p99
assert runs["empty-run"]["metrics"]["latency_p50_ms"]["note"] == "no successful requests"
assert runs["all-throttled"]["metrics"]["success_ratio"]["value"] == 0
PY

"$FAASML" report "$db" --format csv >"$tmp/r.csv"
[ "$(wc -l <"$tmp/r.csv")" -eq 7 ] || fail "csv should have a header and 6 rows"

# choosing runs: by name and by id, in a database named with --db
"$FAASML" report --db "$db" lambda-1024 --run 4 --baseline lambda-1024 >"$tmp/two.txt"
grep -qF "lambda-1024 (#1)" "$tmp/two.txt" && grep -qF "ec2-g4dn (#4)" "$tmp/two.txt" \
    && ! grep -qF "gcf-1024" "$tmp/two.txt" || fail "--db/--run selection"
grep -qF "compared with lambda-1024 (#1)" "$tmp/two.txt" || fail "no side-by-side comparison"

# --- bad input: clear words, the right exit code, never a crash -------------------------------
expect_fail 2 "no such file '$tmp/nope.db'" -- "$FAASML" report "$tmp/nope.db"
expect_fail 2 "no run 'nosuch'" -- "$FAASML" report --db "$db" nosuch
expect_fail 2 "unknown price snapshot '1999'" -- "$FAASML" report "$db" --snapshot 1999
printf 'format: 1\ncurrency: USD\nsnapshots: []\noffers: []\nextra: 1\n' >"$tmp/bad.yaml"
expect_fail 2 "bad.yaml:5:1: unknown key 'extra'" -- "$FAASML" report "$db" --prices "$tmp/bad.yaml"
: >"$tmp/empty.db" # an empty file: an empty database
expect_fail 2 "no runs recorded in" -- "$FAASML" report "$tmp/empty.db"
cp "$db" "$tmp/newer.db"
sqlite3 "$tmp/newer.db" 'PRAGMA user_version=99'
expect_fail 1 "newer than this faasml" -- "$FAASML" report "$tmp/newer.db"

# --- HTML ------------------------------------------------------------------------------------
out=$tmp/report
"$FAASML" report "$db" --html "$out" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "html"; }
for f in index.html report.json latency_cdf cost coldstart latency_cost timeline_1 timeline_5 timeline_6; do
    case $f in *.*) [ -s "$out/$f" ] || fail "missing $f" ;;
    *) for ext in svg gp dat; do [ -s "$out/$f.$ext" ] || fail "missing $f.$ext"; done ;; esac
done
# legends sit outside the plots: in each script, and in the SVG gnuplot drew (no legend entry
# overlaps a plot area or a data point); the same check finds a key moved inside
python3 "$SRC/tests/fixtures/report/check_figures.py" "$out" || fail "a legend covers the data"
cp -r "$out" "$tmp/inside"
(cd "$tmp/inside" && sed -i "s/^set key noautotitle outside right top vertical box lc rgb '#cccccc'/set key noautotitle inside bottom right vertical box lc rgb '#cccccc' opaque/" latency_cdf.gp \
    && gnuplot latency_cdf.gp) || fail "cannot redraw latency_cdf with its key inside"
python3 "$SRC/tests/fixtures/report/check_figures.py" "$tmp/inside" --expect-overlap latency_cdf \
    || fail "the legend check does not see a key over the data"
# each figure says what it shows, names the runs it leaves out, and the runs' configurations are
# a table; latency vs cost draws the SLO and the Pareto front; cold starts that span > 10x are
# drawn on a log axis
python3 - "$out" <<'PY' || fail "figure headlines, left-out runs or the Runs table"
import re, sys
d = sys.argv[1]
html = open(f"{d}/index.html").read()
figs = re.findall(r'<figure id="([a-z_0-9]+)">(.*?)</figure>', html, re.S)
assert len(figs) == 10, len(figs)
for name, body in figs:
    m = re.search(r'<p class="headline">([^<]+)</p>', body)
    assert m and len(m.group(1)) > 20, f"{name}: no headline"
heads = {n: re.search(r'<p class="headline">([^<]+)</p>', b).group(1) for n, b in figs}
lo = {n: re.search(r'<p class="leftout">([^<]+)</p>', b) for n, b in figs}
assert "Pareto front, cheapest first: lambda-1024 (#1), sagemaker-m5 (#3), ec2-g4dn (#4)" in heads["latency_cost"], heads["latency_cost"]
assert "1 of 4 runs dominated" in heads["latency_cost"], heads["latency_cost"]
assert "ec2-g4dn (#4) has the lowest p99" in heads["latency_cdf"], heads["latency_cdf"]
assert "lambda-1024 (#1) is the cheapest per 1M" in heads["cost"], heads["cost"]
for n in ("latency_cdf", "latency_cost", "coldstart"):
    assert lo[n] and "empty-run (#5)" in lo[n].group(1) and "all-throttled (#6)" in lo[n].group(1), n
runs = html[html.index("<h2>Runs</h2>"):]
assert '{"' not in runs and "<th>memory_mb</th>" in runs and "<th>instance_type</th>" in runs, runs[:400]
gp = open(f"{d}/latency_cost.gp").read()
assert "first 300 to graph 1, first 300" in gp and "title 'SLO 300 ms'" in gp, "no SLO line"
assert "with steps" in gp and "title 'Pareto front'" in gp, "no Pareto front"
front = open(f"{d}/latency_cost.dat").read().split("\n\n\n")[1]
assert len([l for l in front.splitlines() if l and not l.startswith("#")]) == 3, front
assert "set logscale y" in open(f"{d}/coldstart.gp").read(), "cold starts not on a log axis"
PY
# identical runs are marked, not hidden under each other: a copy of run 1 as run 7
cp "$db" "$tmp/dup.db"
cols() { sqlite3 "$tmp/dup.db" "SELECT group_concat(name, ', ') FROM pragma_table_info('$1') WHERE name != '$2'"; }
sqlite3 "$tmp/dup.db" "INSERT INTO runs(id, name, $(cols runs id | sed 's/name, //; s/, name,/,/')) SELECT 7, 'lambda-copy', $(cols runs id | sed 's/name, //; s/, name,/,/') FROM runs WHERE id=1"
for t in requests instances points costs; do
    sqlite3 "$tmp/dup.db" "INSERT INTO $t(run, $(cols $t run)) SELECT 7, $(cols $t run) FROM $t WHERE run=1"
done
"$FAASML" report --db "$tmp/dup.db" lambda-1024 lambda-copy --html "$tmp/dup" >/dev/null 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "html of identical runs"; }
grep -qF "title 'lambda-copy (#7) (identical to lambda-1024 (#1))'" "$tmp/dup/latency_cdf.gp" \
    || fail "identical latency series not marked: $(grep title "$tmp/dup/latency_cdf.gp")"
grep -qF "lambda-1024 (#1) = lambda-copy (#7)" "$tmp/dup/latency_cost.dat" \
    || fail "identical points not labelled together: $(cat "$tmp/dup/latency_cost.dat")"
python3 "$SRC/tests/fixtures/report/check_figures.py" "$tmp/dup" || fail "a legend covers the data (identical runs)"

# a figure can be redrawn by the user from the files beside it
(cd "$out" && rm cost.svg && gnuplot cost.gp && [ -s cost.svg ]) || fail "cost.gp does not redraw"
# rerunning replaces a report atomically; a directory that is not a report is left alone
"$FAASML" report "$db" --html "$out" >/dev/null 2>&1 || fail "html rerun"
mkdir "$tmp/mine" && touch "$tmp/mine/thesis.tex"
expect_fail 1 "is not a faasml report" -- "$FAASML" report "$db" --html "$tmp/mine"
[ -f "$tmp/mine/thesis.tex" ] || fail "a user's directory was touched"
# without gnuplot the report fails cleanly and leaves nothing behind
mkdir "$tmp/bin" && ln -s "$(command -v sqlite3)" "$tmp/bin/sqlite3"
expect_fail 1 "cannot run 'gnuplot'" -- env PATH="$tmp/bin" "$FAASML" report "$db" --html "$tmp/partial"
[ ! -e "$tmp/partial" ] && ! ls -d "$tmp"/partial.tmp-* >/dev/null 2>&1 || fail "partial output left"

# --- the HTML in a real browser ----------------------------------------------------------------
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ] && [ "$(id -u)" -eq 0 ]; then
    "$SRC/scripts/install-deps.sh" >/dev/null 2>&1 || true
    browser=$(command -v chromium || true)
fi
if [ -z "$browser" ]; then
    echo "SKIP: chromium is not installed and cannot be installed here (scripts/install-deps.sh);" \
         "the browser check of the HTML report did not run" >&2
    exit 77
fi
chrome() { timeout 90 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$tmp/chrome" --no-first-run --disable-extensions "$@" 2>/dev/null; }

# every <img> must have loaded: a copy of the page reports each image's state into the DOM
cp -r "$out" "$tmp/probe"
sed -i 's|</body>|<script>window.addEventListener("load",()=>{const p=document.createElement("pre");p.id="imgcheck";p.textContent=[...document.images].map(i=>"IMG_"+(i.complete\&\&i.naturalWidth>0?"OK":"BROKEN")+":"+i.getAttribute("src")).join("\\n");document.body.appendChild(p);});</script></body>|' "$tmp/probe/index.html"
chrome --virtual-time-budget=10000 --dump-dom "file://$tmp/probe/index.html" >"$tmp/dom.html" \
    || fail "chromium --dump-dom failed"
grep -q 'id="imgcheck"' "$tmp/dom.html" || fail "the image probe did not run"
! grep -q 'IMG_BROKEN:' "$tmp/dom.html" || { grep -o 'IMG_BROKEN:[^ <]*' "$tmp/dom.html"; fail "an image did not load"; }
loaded=$(grep -o 'IMG_OK:[a-z_0-9]*\.svg' "$tmp/dom.html" | sort -u | wc -l)
[ "$loaded" -eq 10 ] || fail "expected 10 figures loaded, saw $loaded"

# the screenshot shows the figures: compare coloured pixels with the page's figures hidden
chrome --screenshot="$tmp/shot.png" --window-size=1280,10000 --force-device-scale-factor=0.5 "file://$out/index.html" >/dev/null \
    || fail "chromium screenshot failed"
sed -i 's|</style>|img{visibility:hidden}</style>|' "$tmp/probe/index.html"
chrome --screenshot="$tmp/noimg.png" --window-size=1280,10000 --force-device-scale-factor=0.5 "file://$tmp/probe/index.html" \
    >/dev/null || fail "chromium screenshot failed"
python3 - "$tmp/shot.png" "$tmp/noimg.png" <<'PY'
import struct, sys, zlib
def pixels(path):
    """Decodes an 8-bit RGB/RGBA PNG (what Chromium writes) with zlib only."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 4 if ctype == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, rows, i = zlib.decompress(idat), w * bpp, bytearray(w * bpp), [], 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line); prev = line
    return w, h, bpp, rows
def stats(path):
    w, h, bpp, rows = pixels(path)
    coloured = nonwhite = 0
    for line in rows:
        for x in range(0, w * bpp, bpp * 2):  # every other pixel is plenty
            r, g, b = line[x], line[x + 1], line[x + 2]
            nonwhite += (r, g, b) != (255, 255, 255)
            coloured += max(r, g, b) - min(r, g, b) > 60
    return w, h, coloured, nonwhite
w, h, col, nw = stats(sys.argv[1])
_, _, col0, _ = stats(sys.argv[2])
print(f"screenshot {w}x{h}: {nw} non-white and {col} coloured pixels sampled; {col0} without figures")
assert nw > 0.2 * (w // 2) * h, "the page is blank"
assert col - col0 > 5000, "the figures add too few coloured pixels: SVGs did not render"
PY
echo "report_html: ok"
