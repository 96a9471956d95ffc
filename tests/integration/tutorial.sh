#!/usr/bin/env bash
# docs/tutorial.md, run as written: every ```sh block, in order, in one shell, in a scratch
# directory where tests/fixtures/infer/conv_net.onnx stands in for the user's my_model.onnx and
# build/faasml is the binary under test. A tutorial command that stops working fails this test.
#
# What the test changes, and nothing else:
#   - the fixed ports of the tutorial (8080, 9000) become free ones, so parallel runs never clash,
#     and FAASML_GATEWAY names the moved 9000 (deploy and invoke default to 127.0.0.1:9000);
#   - after a line that starts a server in the background (`... --listen HOST:PORT ... &`) it waits
#     until the port answers (a person typing waits by reading the ready line);
#   - the markers in the tutorial's source, on the line before a block:
#       <!-- tutorial-test: skip: REASON -->          the block is not run (REASON says why)
#       <!-- tutorial-test: needs CMD -->              run only when CMD is installed
#       <!-- tutorial-test: replace "A" "B": REASON --> run with A replaced by B
#   - step 1 (`make demo`, minutes of live load on MobileNetV2) is replaced by a small stand-in
#     results/quick.db: the same command, `faasml bench`, on a spec named quick with the tiny model.
set -euo pipefail
FAASML=${FAASML:?FAASML must name the faasml binary}
SRC=${FM_SOURCE_DIR:?FM_SOURCE_DIR must name the source tree}
DOC=${TUTORIAL:-$SRC/docs/tutorial.md}
T=$(mktemp -d /tmp/faasml-tutorial.XXXXXX)
cleanup() {
    local rc=$?
    # the tutorial's own background servers are stopped by the script's trap; this is a backstop
    for pid in $(cat "$T"/bg.pids 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
    if [ "$rc" -ne 0 ]; then
        for f in "$T"/w/fn.log "$T"/w/serve.log "$T"/w/results/mine.db.platform.log; do
            [ -s "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }
        done
    fi
    rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

[ -f "$DOC" ] || fail "no tutorial at $DOC"
W=$T/w
mkdir -p "$W/build" "$W/results"
ln -s "$(readlink -f "$FAASML")" "$W/build/faasml"
cp "$SRC/tests/fixtures/infer/conv_net.onnx" "$W/my_model.onnx"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P8080=$(free_port)
P9000=$(free_port)
[ "$P8080" != "$P9000" ] || P9000=$(free_port)

# The stand-in for `make demo`: results/quick.db from a bench run of the tiny model.
"$FAASML" calibrate -m convnet="$W/my_model.onnx" -b 1 --runs 5 --cold-runs 2 \
    -o "$T/cal-quick.yaml" >/dev/null 2>&1 || fail "stand-in calibration"
cat > "$T/quick.yaml" <<YAML
name: quick
seed: 42
mode: sim
slo_ms: 500
results: $W/results/quick.db
calibration: $T/cal-quick.yaml
simulation: {host: cloud, scale: 2}
models:
  convnet: {path: $W/my_model.onnx, input: x, shape: [1, 3, 16, 16]}
workloads:
  bursty: {process: mmpp, mmpp: {rates: [1, 12], sojourn: [10s, 3s], transition: [[0, 1], [1, 0]]}, requests: 40}
platforms:
  lambda: {profile: lambda, memory_mb: 1769}
  server: {profile: server, instances: 1, policy: {inst: {workers: 2}}}
YAML
"$FAASML" bench "$T/quick.yaml" --no-html >/dev/null 2>"$T/bench.err" || {
    cat "$T/bench.err" >&2
    fail "stand-in results/quick.db"
}
ok "stand-in results/quick.db"

# Extract the blocks into one script. Each block is announced with its line in the tutorial, so
# a failure names the command that broke.
python3 - "$DOC" "$T/tutorial-run.sh" "$P8080" "$P9000" "$T/bg.pids" > "$T/blocks.txt" <<'PY'
import re, shutil, sys
doc, out, p8080, p9000, pids = sys.argv[1:]
lines = open(doc, encoding="utf-8").read().split("\n")
marker = re.compile(r'^<!--\s*tutorial-test:\s*(.*?)\s*(-->|$)')
blocks, pending, i = [], [], 0
while i < len(lines):
    line = lines[i]
    m = marker.search(line)
    if m:
        text = m.group(1)
        while not m.group(2) and i + 1 < len(lines):  # a marker may span lines
            i += 1
            m2 = re.search(r'(.*?)\s*(-->|$)', lines[i])
            text += " " + m2.group(1).strip()
            m = m2
        pending.append(text)
    elif line.strip() == "```sh":
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            sys.exit(f"{doc}:{start}: unterminated ```sh block")
        blocks.append((start, body, pending))
        pending = []
    elif line.strip() and not line.startswith("<!--"):
        if pending and line.startswith("```"):
            sys.exit(f"{doc}:{i+1}: a tutorial-test marker before a block that is not ```sh")
    i += 1
if not blocks:
    sys.exit(f"{doc}: no ```sh blocks")
listen = re.compile(r'--listen\s+(127\.0\.0\.1|localhost):(\d+)')
sh = ["set -euo pipefail",
      "fm_wait_port() { for _ in $(seq 300); do curl -s -o /dev/null \"http://127.0.0.1:$1/\" && return 0; sleep 0.1; done; echo \"nothing listens on port $1\" >&2; return 1; }",
      "trap 'for p in $(jobs -p); do kill -TERM $p 2>/dev/null; done; wait 2>/dev/null' EXIT"]
for start, body, marks in blocks:
    text = "\n".join(body)
    skip = None
    for mk in marks:
        if mk.startswith("skip"):
            skip = mk
        elif mk.startswith("needs "):
            cmd = mk.split()[1]
            if not shutil.which(cmd):
                skip = f"needs {cmd}, which is not installed"
        elif mk.startswith("replace "):
            r = re.match(r'replace\s+"([^"]*)"\s+"([^"]*)"', mk)
            if not r:
                sys.exit(f"{doc}:{start}: bad replace marker: {mk}")
            if r.group(1) not in text:
                sys.exit(f"{doc}:{start}: replace marker's text {r.group(1)!r} is not in the block")
            text = text.replace(r.group(1), r.group(2))
        else:
            sys.exit(f"{doc}:{start}: unknown tutorial-test marker: {mk}")
    print(f"line {start}: {'SKIP (' + skip + ')' if skip else 'run'}")
    if skip:
        continue
    text = re.sub(r':8080\b', ':' + p8080, text)
    text = re.sub(r':9000\b', ':' + p9000, text)
    sh.append(f"echo '# tutorial.md line {start}' >&2")
    for ln in text.split("\n"):
        sh.append(ln)
        m = listen.search(ln)
        if m and ln.rstrip().endswith("&"):
            sh.append(f"echo $! >> {pids}")
            sh.append(f"fm_wait_port {m.group(2)}")
open(out, "w").write("\n".join(sh) + "\n")
PY
cat "$T/blocks.txt"
n_run=$(grep -c ': run$' "$T/blocks.txt" || true)
[ "$n_run" -ge 8 ] || fail "only $n_run tutorial blocks run (the markers skip too many)"

cd "$W"
export HOME=$T/home AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=
export AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS=1 FAASML_GATEWAY=http://127.0.0.1:$P9000
mkdir -p "$HOME"
timeout 300 bash "$T/tutorial-run.sh" > "$T/run.out" 2> "$T/run.err" || {
    tail -40 "$T/run.err" >&2
    fail "a tutorial command failed (last '# tutorial.md line N' above names its block)"
}
ok "$n_run tutorial blocks ran"
if grep -E -q 'Sanitizer|runtime error:' "$T/run.err"; then
    grep -E -A20 'Sanitizer|runtime error:' "$T/run.err" | head -40 >&2
    fail "a sanitizer report from a tutorial command"
fi

# What the commands should have left behind, beyond their exit status.
grep -q '"outputs"' "$T/run.out" || fail "the KServe infer call answered no outputs"
[ -s request.json ] && grep -q '"inputs"' request.json || fail "faasml request wrote no request.json"
grep -q '"outputs"' out.json || fail "the invoke wrote no inference result to out.json"
[ -s requests.csv ] || fail "db --csv requests wrote nothing"
grep -q '"runs"\|"run"\|"label"' report.json || fail "report --json wrote no runs"
grep -q 'cheapest configuration' "$T/run.out" || fail "plan named no cheapest configuration"
grep -q 'my_model' results/calibration-mine.yaml || fail "calibrate wrote no entry for my_model"
ok "outputs: inference answers, request.json, requests.csv, report.json, plan's choice"
