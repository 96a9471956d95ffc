#!/usr/bin/env bash
# Cost of `faasml report` on a large run, next to a peer: the sqlite3 CLI computing the same
# count, mean, p50 and p99 of latency over the same table (window functions). Reports medians of
# several runs and their ratio. Usage: bench/report/run.sh [faasml] [requests] [runs]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
faasml=${1:-$root/build/faasml}
n=${2:-1000000}
runs=${3:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/bench.db
"$faasml" db "$db" >/dev/null # creates the schema
sqlite3 "$db" <<SQL
INSERT INTO runs(name,mode,profile,config,seed,host,started_ns,ended_ns,status)
  VALUES('bench','sim','lambda','{"slo_ms":200,"memory_mb":1024}',1,'{}',0,0,'done');
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i < $n - 1)
INSERT INTO requests(run,id,function,scheduled_ns,sent_ns,first_byte_ns,done_ns,status,http_code,
                     error,cold,instance,init_ms,duration_ms,billed_ms,memory_mb,batch_size,batch_kind)
  SELECT 1, i, 'f', i*1000000, i*1000000+500, 0, i*1000000+500+(50+(i*7919)%200)*1000000, 'ok',
         200, NULL, 0, -1, 0, 40+(i%100), 41+(i%100), 1024, 1, NULL FROM c;
SQL
peer_sql="WITH l AS (SELECT (done_ns-sent_ns)/1e6 AS ms FROM requests WHERE run=1 AND http_code BETWEEN 200 AND 299),
 r AS (SELECT ms, ROW_NUMBER() OVER (ORDER BY ms) AS k, COUNT(*) OVER () AS n FROM l)
 SELECT (SELECT COUNT(*) FROM l), (SELECT AVG(ms) FROM l),
        (SELECT ms FROM r WHERE k = CAST(ceil(0.5*n) AS INT)), (SELECT ms FROM r WHERE k = CAST(ceil(0.99*n) AS INT));"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_of() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); awk "BEGIN {print $e - $s}"; }
ours=$(for _ in $(seq "$runs"); do time_of "$faasml" report "$db" --format json; done | median)
peer=$(for _ in $(seq "$runs"); do time_of sqlite3 "$db" "$peer_sql"; done | median)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "requests: $n, runs: $runs (medians)"
printf 'faasml report (all metrics, CIs, costs): %.3f s\n' "$ours"
printf 'sqlite3 peer (count, mean, p50, p99):     %.3f s\n' "$peer"
awk "BEGIN {printf \"ratio faasml/sqlite3: %.2f\\n\", $ours / $peer}"
