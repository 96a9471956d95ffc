#!/usr/bin/env bash
# The platform's commands: faasml deploy / functions / invoke against a running serve, an update
# that replaces instances, delete, the bash+curl runtime, and a graceful SIGTERM that lets an
# in-flight request finish.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

start_serve --db "$TMP/db.sqlite"
G=(--gateway "$URL")
cp "$RT/echo-sh/bootstrap" "$TMP/bootstrap"
printf 'name: sh\nbootstrap: bootstrap\nmemory_mb: 512\nenvironment:\n  A: "1"\n' >"$TMP/sh.yaml"
out=$("$FAASML" deploy "$TMP/sh.yaml" "${G[@]}")
expect_eq "$out" "created function 'sh'" "deploy output"
write_spec echo echo
"$FAASML" deploy "$TMP/echo.yaml" "${G[@]}" >/dev/null || fail "deploy echo"

printf '{"via":"cli"}' >"$TMP/p.json"
out=$("$FAASML" invoke sh --payload "$TMP/p.json" "${G[@]}")
expect_eq "$out" '{"via":"cli"}' "invoke through the bash+curl runtime"
ok "deploy (relative bootstrap path) and invoke a bash+curl runtime"

list=$("$FAASML" functions "${G[@]}")
expect_contains "$list" "sh " "functions lists sh"
expect_contains "$list" "512 MB" "functions shows memory"
"$FAASML" functions --json "${G[@]}" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert sorted(f["name"] for f in d["functions"]) == ["echo","sh"], d' \
    || fail "functions --json"
ok "functions lists both"

printf '{"op":"error"}' >"$TMP/e.json"
set +e
"$FAASML" invoke echo --payload "$TMP/e.json" "${G[@]}" >/dev/null 2>"$TMP/err"
rc=$?
set -e
expect_eq "$rc" 1 "invoke exit code on a function error"
expect_contains "$(cat "$TMP/err")" "Unhandled" "invoke reports the function error"
ok "invoke exits 1 on a function error"

# Update: the new spec's environment reaches new instances.
write_spec echo echo "environment:" "  GREETING: updated"
out=$("$FAASML" deploy "$TMP/echo.yaml" "${G[@]}")
expect_eq "$out" "updated function 'echo'" "update output"
printf '{"op":"env"}' >"$TMP/env.json"
out=$("$FAASML" invoke echo --payload "$TMP/env.json" "${G[@]}")
expect_contains "$out" '"GREETING": "updated"' "updated environment"
ok "deploy over an existing name updates it"

out=$("$FAASML" functions --delete sh "${G[@]}")
expect_eq "$out" "deleted function 'sh'" "delete output"
code=$(invoke sh '{}')
expect_eq "$code" 404 "deleted function"
ok "functions --delete"

# Graceful shutdown: the in-flight request is answered, then serve exits 0.
curl -sS --max-time 20 -o "$TMP/slow" -X POST "$URL/2015-03-31/functions/echo/invocations" \
    --data-binary '{"op":"sleep","s":1}' &
slow=$!
sleep 0.4
kill -TERM "$SERVE_PID"
wait $slow || fail "in-flight request failed during shutdown"
expect_contains "$(cat "$TMP/slow")" '"slept"' "in-flight request answered"
wait "$SERVE_PID" || fail "serve exited non-zero after SIGTERM"
SERVE_PID=
"$FAASML" db "$TMP/db.sqlite" --json | grep '"status":"done"' >/dev/null || fail "run not closed"
ok "SIGTERM drains in-flight requests and closes the run"
