#!/usr/bin/env bash
# The faasml binary's basics: --version, --help, exit codes 0/1/2, every command's --help, the
# bootstrap entry point, and `faasml db` on a fresh database (empty listing, CSV headers, unknown
# tables, -o files).
set -euo pipefail
FAASML=$(readlink -f "${FAASML:-build/faasml}")
T=$(mktemp -d /tmp/fm_cli_XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# run NAME WANT_RC CMD...: runs CMD with a time limit, keeps stdout/stderr in $T/NAME.{out,err}
run() {
    local name=$1 want=$2 rc=0
    shift 2
    timeout 30 "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "$name: '$*' exited $rc, expected $want: $(head -c 300 "$T/$name.err")"
}
has() { grep -qF -- "$2" "$T/$1" || fail "$1 lacks '$2': $(head -c 300 "$T/$1")"; }

run version 0 "$FAASML" --version
grep -qE '^faasml [0-9]+\.[0-9]+\.[0-9]+$' "$T/version.out" || fail "version: $(cat "$T/version.out")"
has version.out "commit: "
has version.out "build: "
has version.out "  sqlite 3."
has version.out "  oneDNN "
grep -q '^cpu:' "$T/version.out" || fail "version: no cpu line"
[ "$(git -C "$FM_SOURCE_DIR" rev-parse --short=12 HEAD 2>/dev/null || echo none)" = none ] ||
    grep -q "^commit: $(git -C "$FM_SOURCE_DIR" rev-parse --short=12 HEAD)" "$T/version.out" ||
    fail "version: the commit is not HEAD's: $(grep commit "$T/version.out")"

run help 0 "$FAASML" --help
has help.out "usage: faasml <command>"
has help.out "  db "
run help_cmd 0 "$FAASML" help db
has help_cmd.out "usage: faasml db DB"
run help_unknown 2 "$FAASML" help frobnicate
has help_unknown.err "'frobnicate' is not a faasml command"
run noargs 2 "$FAASML"
has noargs.err "usage: faasml <command>"
run unknown 2 "$FAASML" frobnicate
has unknown.err "'frobnicate' is not a faasml command"

# every command listed answers --help with 0 and its own usage line
mapfile -t built < <(awk '/^  [a-z]/ {print $1}' "$T/help.out")
[ "${#built[@]}" -gt 0 ] || fail "no command listed"
for c in "${built[@]}"; do
    run "h_$c" 0 "$FAASML" "$c" --help
    has "h_$c.out" "usage: faasml $c"
done
# a Lambda custom runtime runs the binary as 'bootstrap': that is the function host
ln -s "$FAASML" "$T/bootstrap"
run bootstrap 0 "$T/bootstrap" --help
has bootstrap.out "usage: faasml fn"

# faasml db
run db_help 0 "$FAASML" db --help
has db_help.out "usage: faasml db DB"
run db_noarg 2 "$FAASML" db
run db_badopt 2 "$FAASML" db "$T/x.db" --bogus
has db_badopt.err "unknown option '--bogus'"
run db_typo 2 "$FAASML" db "$T/typo.db"
has db_typo.err "no such file '$T/typo.db'"
[ ! -e "$T/typo.db" ] || fail "db_typo: a mistyped name created a database"

: >"$T/new.db" # an empty file is an empty database: the schema is created on open
run db_new 0 "$FAASML" db "$T/new.db"
[ -s "$T/new.db" ] || fail "db_new: no schema written"
run db_badrun 2 "$FAASML" db "$T/new.db" --csv runs --run abc
has db_badrun.err "no run 'abc' in the database"
[ ! -s "$T/db_new.out" ] || fail "db_new: a fresh database lists runs: $(cat "$T/db_new.out")"
run db_json 0 "$FAASML" db "$T/new.db" --json
[ ! -s "$T/db_json.out" ] || fail "db_json: output on an empty database"

run csv_runs 0 "$FAASML" db "$T/new.db" --csv runs
printf 'id,name,mode,profile,config,seed,host,started_ns,ended_ns,status,writer\r\n' >"$T/runs.want"
cmp -s "$T/csv_runs.out" "$T/runs.want" || fail "csv_runs: $(od -c "$T/csv_runs.out" | head -3)"
for t in requests instances costs points; do
    run "csv_$t" 0 "$FAASML" db "$T/new.db" --csv "$t"
    [ "$(wc -l <"$T/csv_$t.out")" -eq 1 ] || fail "csv_$t: not exactly one header line"
    head -c 4 "$T/csv_$t.out" | grep -q '^run,' || fail "csv_$t: header does not start with run"
done
has csv_requests.out "run,id,function,scheduled_ns,sent_ns,first_byte_ns,done_ns,status,http_code,error"

run csv_nosuch 2 "$FAASML" db "$T/new.db" --csv nosuch
has csv_nosuch.err "unknown table 'nosuch'"
run csv_nosuch_fresh 2 "$FAASML" db "$T/fresh.db" --csv nosuch
[ ! -e "$T/fresh.db" ] || fail "csv_nosuch_fresh: a usage error created a database"

run csv_file 0 "$FAASML" db "$T/new.db" --csv runs -o "$T/runs.csv"
cmp -s "$T/runs.csv" "$T/runs.want" || fail "csv_file: -o output differs from stdout"
[ ! -s "$T/csv_file.out" ] || fail "csv_file: printed to stdout with -o"
run csv_baddir 1 "$FAASML" db "$T/new.db" --csv runs -o "$T/nodir/runs.csv"
has csv_baddir.err "cannot write '$T/nodir/runs.csv'"
[ -z "$(find "$T" -name '*.tmp*')" ] || fail "temporary files left behind"

printf 'this is not a database\n%.0s' {1..50} >"$T/text.db"
run db_text 1 "$FAASML" db "$T/text.db"
has db_text.err "cannot open results database '$T/text.db': file is not a database"
run db_nodir 2 "$FAASML" db "$T/nodir/x.db"
has db_nodir.err "no such file '$T/nodir/x.db'"

# a missing input file is exit 2 "no such file" in every command that reads one, before anything
# is started or measured, and a mistyped database is never created
cd "$T"
for c in "serve --config nope.yaml" "serve --deploy nope.yaml" "calibrate -m x=nope.onnx" \
         "calibrate --from-db nope.db" "load --spec nope.yaml" "load --trace nope.csv" \
         "load --azure nope" "load --function f --payload nope.json --rate 1 -n 1 --db none" \
         "simulate nope.yaml" "bench nope.yaml" "plan nope.yaml" "report nope.db" \
         "db nope.db" "deploy nope.yaml" "invoke f --payload nope.json" "logs f --db nope.db" \
         "logs f --log-dir nope"; do
    name=missing_$(echo "$c" | tr -c 'a-z0-9' _)
    # shellcheck disable=SC2086
    run "$name" 2 "$FAASML" $c
    grep -qE "^faasml [a-z]+: no such file '[^']*nope[^']*'$" "$T/$name.err" ||
        fail "$c: $(head -c 300 "$T/$name.err")"
done
[ ! -e "$T/nope.db" ] || fail "a missing database was created"
# --db none: no database where a command can run without one; bench says why it cannot
run bench_dbnone 2 "$FAASML" bench --db none "$FM_SOURCE_DIR/examples/quick.yaml"
has bench_dbnone.err "--db none: bench records every run"
timeout 20 "$FAASML" serve --listen 127.0.0.1:0 --db none >"$T/serve_none.out" 2>&1 &
spid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$T/serve_none.out" && break; sleep 0.1; done
grep -q '^listening on ' "$T/serve_none.out" || fail "serve --db none did not start: $(cat "$T/serve_none.out")"
kill -TERM "$spid"
wait "$spid" || true
[ ! -e "$T/none" ] || fail "serve --db none created a database named 'none'"
cd - >/dev/null

# a platform that is not there: the error names the likely cause
run noserve 1 "$FAASML" functions --gateway http://127.0.0.1:1
has noserve.err "is \`faasml serve\` running on 127.0.0.1:1?"

if [ "$fails" -ne 0 ]; then
    echo "cli_basics: $fails failure(s)" >&2
    exit 1
fi
echo "cli_basics: ok"
