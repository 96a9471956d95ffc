#!/usr/bin/env bash
# docs/monitoring: the Prometheus scrape example and the Grafana dashboard match what a running
# `faasml serve` exposes on /metrics. promtool is not installed by scripts/install-deps.sh
# (Debian's prometheus package is far larger than the check needs), so the structure is checked
# here: the scrape config's shape and path, and every metric a dashboard query names is one the
# platform serves, with rate() only over counters and histogram_quantile() only over histograms.
# When promtool happens to be installed it checks the config too.
set -euo pipefail
FAASML=${FAASML:?FAASML must name the faasml binary}
SRC=${FM_SOURCE_DIR:?FM_SOURCE_DIR must name the source tree}
T=$(mktemp -d /tmp/faasml-monitoring.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

"$FAASML" serve --listen 127.0.0.1:0 > "$T/out" 2> "$T/err" &
PID=$!
for _ in $(seq 100); do grep -q '^listening on ' "$T/out" && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$T/out" | head -1)
[ -n "$URL" ] || { cat "$T/err" >&2; fail "serve did not start"; }
curl -sf "$URL/metrics" > "$T/metrics" || fail "GET /metrics"

python3 - "$SRC/docs/monitoring" "$T/metrics" <<'PY'
import json, re, sys
import yaml
d, metrics = sys.argv[1], open(sys.argv[2]).read()
types = dict(re.findall(r'^# TYPE (\S+) (\S+)$', metrics, re.M))
assert types, "the platform serves no # TYPE lines"
cfg = yaml.safe_load(open(f"{d}/prometheus.yml"))
jobs = cfg["scrape_configs"]
assert any(j.get("metrics_path", "/metrics") == "/metrics" for j in jobs), "no job scrapes /metrics"
for j in jobs:
    for sc in j["static_configs"]:
        for t in sc["targets"]:
            assert re.fullmatch(r'[\w.-]+:\d+', t), f"target {t!r} is not HOST:PORT"
dash = json.load(open(f"{d}/grafana-dashboard.json"))
assert dash["panels"], "dashboard has no panels"
seen = set()
for p in dash["panels"]:
    assert p.get("title") and p.get("targets"), f"panel without title or queries: {p}"
    for t in p["targets"]:
        e = t["expr"]
        for name in re.findall(r'\b(faasml_[a-z_]+)', e):
            base = re.sub(r'_(bucket|sum|count)$', '', name)
            assert base in types, f"panel {p['title']!r}: {name} is not served on /metrics"
            seen.add(base)
        for inner in re.findall(r'rate\((faasml_[a-z_]+)', e):
            base = re.sub(r'_(bucket|sum|count)$', '', inner)
            assert types[base] in ("counter", "histogram"), f"rate() over {types[base]} {inner}"
        for q in re.findall(r'histogram_quantile\([^,]+,.*?(faasml_[a-z_]+)_bucket', e):
            assert types[q] == "histogram", f"histogram_quantile over {types[q]} {q}"
missing = {m for m in types if m.startswith("faasml_")} - seen
print(f"dashboard uses {len(seen)} of {len(types)} metrics; not shown: {sorted(missing)}")
PY
ok "scrape config and dashboard match /metrics"

if command -v promtool > /dev/null; then
    promtool check config "$SRC/docs/monitoring/prometheus.yml" || fail "promtool check config"
    ok "promtool check config"
else
    echo "# promtool not installed: the scrape config was checked structurally only"
fi
