#!/usr/bin/env bash
# The command and option tables, seen from outside: `faasml completion bash` is valid bash and
# completes every command and every option that `--help` documents (both come from the same
# tables, so this fails if a command escapes them); file-valued options complete file names; and
# a short flag means the same long option in every command that has it.
set -euo pipefail
FAASML=${FAASML:?FAASML must name the faasml binary}
T=$(mktemp -d /tmp/faasml-completion.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

"$FAASML" completion bash > "$T/faasml.bash" || fail "completion bash"
bash -n "$T/faasml.bash" || fail "the script is not valid bash"
set +e
"$FAASML" completion zsh > /dev/null 2> "$T/err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "unknown shell 'zsh'" "$T/err" || fail "unknown shell: $rc $(cat "$T/err")"
ok "valid bash; an unknown shell is a usage error"

# complete WORDS...: the candidates bash would offer for the last word.
cat > "$T/complete.sh" <<'SH'
source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_faasml
printf '%s\n' "${COMPREPLY[@]}"
SH
complete() { (cd "$T" && bash "$T/complete.sh" "$T/faasml.bash" "$@"); }

commands=$("$FAASML" --help | awk '/^commands:/{p=1; next} p && /^  [a-z]/{print $1}')
[ "$(echo "$commands" | wc -w)" -ge 10 ] || fail "faasml --help lists too few commands: $commands"
got=$(complete faasml "")
for c in $commands; do
    grep -qx "$c" <<<"$got" || fail "command '$c' is not completed"
done
[ "$(complete faasml rep)" = "report" ] || fail "'faasml rep' completes to $(complete faasml rep)"
ok "every command of faasml --help is completed ($(echo "$commands" | wc -w))"

n_opts=0
: > "$T/shorts"
for c in $commands; do
    "$FAASML" "$c" --help > "$T/help.$c" || fail "$c --help"
    got=$(complete faasml "$c" --)
    for o in $(grep -oE '^ +(-[A-Za-z], )?--[a-z0-9-]+' "$T/help.$c" | grep -oE -- '--[a-z0-9-]+' || true); do
        grep -qx -- "$o" <<<"$got" || fail "'faasml $c $o' is documented but not completed"
        n_opts=$((n_opts + 1))
    done
    { grep -oE '^  -[A-Za-z], --[a-z0-9-]+' "$T/help.$c" || true; } |
        sed "s/^  //; s/,//; s/^/$c /" >> "$T/shorts"
done
ok "every documented option is completed ($n_opts)"

# a short flag stands for one long option everywhere
clash=$(awk '{ if (($2 in long) && long[$2] != $3) print $2 ": " by[$2] " " long[$2] ", " $1 " " $3;
               long[$2] = $3; by[$2] = $1 }' "$T/shorts")
[ -z "$clash" ] || fail "short flags with two meanings: $clash"
for f in -c -d -t; do
    grep -q "^load $f " "$T/shorts" || fail "load lost its wrk-style $f"
done
ok "short flags mean one thing in every command ($(wc -l < "$T/shorts") uses)"

touch "$T/my_model.onnx" "$T/other.txt"
complete faasml fn --model my_ | grep -x "my_model.onnx" >/dev/null || fail "--model does not complete files"
[ -z "$(complete faasml load --rate 1)" ] || fail "--rate completes file names"
complete faasml report --ba | grep -x -- "--baseline" >/dev/null || fail "'report --ba' is not --baseline"
ok "file-valued options complete file names, others do not"
