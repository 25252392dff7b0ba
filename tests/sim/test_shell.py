"""Tests for the simulated kubelet's POSIX-sh subset interpreter."""

from __future__ import annotations

import itertools
import math

import pytest

from kubedog_ci.sim.shell import (
    NO_FILES,
    Exit,
    Files,
    Output,
    ParseError,
    Sleep,
    Step,
    container_program,
    parse,
    probe,
    probe_exit_code,
    run,
)


def _steps(
    script: str, env: dict[str, str] | None = None, limit: int | None = None, files: Files = NO_FILES
) -> list[Step]:
    """Run a script (at most `limit` steps) and check the step invariants every caller relies on."""
    steps = list(itertools.islice(run(parse(script), env or {}, files=files), limit))
    for before, after in itertools.pairwise(steps):
        assert not isinstance(before, Exit), "Exit must be the last step"
        assert not (
            isinstance(before, Output) and isinstance(after, Output) and before.stream == after.stream
        )
    if limit is None:
        assert isinstance(steps[-1], Exit)
    return steps


def _outcome(steps: list[Step]) -> tuple[str, int, float]:
    """(joined stdout, exit code, total sleep) of a finished run."""
    stdout = "".join(s.text for s in steps if isinstance(s, Output) and s.stream == "stdout")
    slept = sum(s.seconds for s in steps if isinstance(s, Sleep))
    assert isinstance(steps[-1], Exit)
    return stdout, steps[-1].code, slept


def out(text: str) -> Output:
    return Output(text, "stdout")


def err(text: str) -> Output:
    return Output(text, "stderr")


# (script, env, exact steps)
STEP_CASES = [
    ("echo start; sleep 5; exit 1", {}, [out("start\n"), Sleep(5.0), Exit(1)]),
    ('echo "$MSG" >&2; exit 3', {"MSG": "boom  now"}, [err("boom  now\n"), Exit(3)]),
    ("for i in $(seq 1 3); do echo $i; done", {}, [out("1\n2\n3\n"), Exit(0)]),
    ("until nslookup db; do echo waiting; sleep 2; done", {}, [Exit(0)]),
    ("", {}, [Exit(0)]),
    ("sleep infinity", {}, [Sleep(math.inf), Exit(0)]),
    ("echo a; echo b >&2; echo c 1>&2; echo d", {}, [out("a\n"), err("b\nc\n"), out("d\n"), Exit(0)]),
    ("echo a; sleep 0; echo b", {}, [out("a\n"), Sleep(0.0), out("b\n"), Exit(0)]),
    ("{ echo a; echo b; } >&2", {}, [err("a\nb\n"), Exit(0)]),
    ("{ echo a >&2; } 2>&1", {}, [out("a\n"), Exit(0)]),
    ("echo a 2>&1", {}, [out("a\n"), Exit(0)]),
    ("echo a >/dev/null; echo b 2>/dev/null; echo c >&2 2>/dev/null", {}, [out("b\n"), err("c\n"), Exit(0)]),
    ("echo a >/dev/null 2>&1; echo b 2>&1 >/dev/null", {}, [Exit(0)]),
    ("echo a 2>&1 >/dev/null >&2", {}, [out("a\n"), Exit(0)]),
    ("echo a > /tmp/file; cat /tmp/file; echo b >>/tmp/log; echo c &>/dev/null", {}, [Exit(0)]),
    ("echo a >/dev/stderr; echo b 1>&2 >/dev/stdout", {}, [err("a\nb\n"), Exit(0)]),
    ("for i in 1 2; do echo $i; done >/dev/null; echo end", {}, [out("end\n"), Exit(0)]),
    ("x=$(echo err >&2; echo out); echo $x", {}, [err("err\n"), out("out\n"), Exit(0)]),
    ("x=$(sleep 2; echo hi); echo $x", {}, [Sleep(2.0), out("hi\n"), Exit(0)]),
    ("echo $((1/0)); echo never", {}, [err("sh: arithmetic: division by zero\n"), Exit(2)]),
    ('echo "${DB_HOST:?is required}"', {}, [err("sh: DB_HOST: is required\n"), Exit(2)]),
    ("exit nope", {}, [err("sh: exit: Illegal number: nope\n"), Exit(2)]),
    ("sleep soon; echo $?", {}, [err("sleep: invalid time interval 'soon'\n"), out("1\n"), Exit(0)]),
    ("[ 1 -eq x ]; echo $?", {}, [err("test: x: integer expression expected\n"), out("2\n"), Exit(0)]),
    ("[ a = a; echo $?", {}, [err("[: missing ]\n"), out("2\n"), Exit(0)]),
    ("printf '%d\\n' abc", {}, [err("printf: abc: invalid number\n"), out("0\n"), Exit(1)]),
]


@pytest.mark.parametrize(("script", "env", "expected"), STEP_CASES)
def test_steps(script: str, env: dict[str, str], expected: list[Step]) -> None:
    assert _steps(script, env) == expected


IF_CHAIN = 'if [ "$A" = 1 ]; then echo one; elif [ -z "$A" ]; then echo empty; else echo other; fi'

# (script, env, joined stdout, exit code, total sleep)
OUTCOME_CASES = [
    # words, quoting, comments
    ("echo 'a  b' \"c  d\" e\\ \\ f", {}, "a  b c  d e  f\n", 0, 0),
    ('echo "q\\"b\\\\s\\$d\\`e" "x\\ny"', {}, 'q"b\\s$d`e x\\ny\n', 0, 0),
    ("echo '$HOME' \"$HOME\" $HOME", {"HOME": "/root"}, "$HOME /root /root\n", 0, 0),
    ("echo a # a comment\n# a whole line\necho b#c", {}, "a\nb#c\n", 0, 0),
    ("echo a \\\n  b", {}, "a b\n", 0, 0),
    ('X=\'a  b\'; echo $X; echo "$X"; echo [$EMPTY] ["$EMPTY"]', {}, "a b\na  b\n[] []\n", 0, 0),
    ("printf '[%s]' '' a \"\"; echo", {}, "[][a][]\n", 0, 0),
    ("echo $", {}, "$\n", 0, 0),
    # separators, negation, groups, subshells
    ("echo a; echo b\necho c", {}, "a\nb\nc\n", 0, 0),
    ("true && echo yes || echo no; false && echo yes || echo no", {}, "yes\nno\n", 0, 0),
    ("false || echo rescued; false && echo never; echo $?", {}, "rescued\n1\n", 0, 0),
    ("true &&\n  echo continued", {}, "continued\n", 0, 0),
    ("! false && echo negated; ! true; echo $?", {}, "negated\n1\n", 0, 0),
    ("echo bg & echo fg", {}, "bg\nfg\n", 0, 0),
    ("{ echo a; echo b; }; { false; }", {}, "a\nb\n", 1, 0),
    ('(X=1; exit 3); echo "$? ${X:-unset}"', {}, "3 unset\n", 0, 0),
    # loops and conditionals
    ("i=0; until [ $i -ge 3 ]; do echo $i; i=$((i+1)); done", {}, "0\n1\n2\n", 0, 0),
    ("i=0; while [ $i -lt 2 ]; do i=$((i + 1)); sleep 1.5; done; echo $i", {}, "2\n", 0, 3.0),
    ('for x in a "b c" $(echo d e); do echo "<$x>"; done', {}, "<a>\n<b c>\n<d>\n<e>\n", 0, 0),
    ("for x in; do echo never; done; echo $?", {}, "0\n", 0, 0),
    ("for i in `seq 2`\ndo\n  echo $i\ndone", {}, "1\n2\n", 0, 0),
    ("for i in 1 2 3 4 5; do [ $i = 2 ] && continue; [ $i = 4 ] && break; echo $i; done", {}, "1\n3\n", 0, 0),
    (
        "for i in 1 2; do for j in a b; do [ $j = b ] && continue 2; echo $i$j; done\ndone",
        {},
        "1a\n2a\n",
        0,
        0,
    ),
    ("for i in 1 2; do while true; do break 2; done; echo never; done; echo out", {}, "out\n", 0, 0),
    ("break; continue; echo still", {}, "still\n", 0, 0),
    (IF_CHAIN, {}, "empty\n", 0, 0),
    (IF_CHAIN, {"A": "1"}, "one\n", 0, 0),
    (IF_CHAIN, {"A": "2"}, "other\n", 0, 0),
    ("if false; then echo never; fi; echo $?", {}, "0\n", 0, 0),
    ("if false; then :; else exit; fi", {}, "", 1, 0),
    ("if\n  true\nthen\n  echo multi\nfi", {}, "multi\n", 0, 0),
    ("while read line; do echo never; done; echo eof", {}, "eof\n", 0, 0),
    # assignments and parameters
    ("A=1 B=$A; echo $A$B", {}, "11\n", 0, 0),
    ('X=5 echo "[$X]"', {}, "[]\n", 0, 0),
    ("export C=3 D; readonly E=4; echo $C$E", {}, "34\n", 0, 0),
    ("echo ${NAME} ${NAME}x ${NAME:-d1} ${UNSET:-d2} ${UNSET-d3}", {"NAME": "n"}, "n nx n d2 d3\n", 0, 0),
    ("echo [${EMPTY:-colon}] [${EMPTY-plain}]", {"EMPTY": ""}, "[colon] []\n", 0, 0),
    ("echo ${N:=v} $N ${N:+alt} [${UNSET:+alt}] ${#N}", {}, "v v alt [] 1\n", 0, 0),
    ('echo "${UNSET:-"a  b"}" ${UNSET:-$HOME}', {"HOME": "/h"}, "a  b /h\n", 0, 0),
    ("echo $$ $# $? $0; false; echo $?", {}, "1 0 0 sh\n1\n", 0, 0),
    ('set -- a \'b c\'; echo $#; for x in "$@"; do echo "<$x>"; done', {}, "2\n<a>\n<b c>\n", 0, 0),
    ("set -- a 'b  c'; echo \"$*\"; echo $*", {}, "a b  c\na b c\n", 0, 0),
    ("set -- a b; for x; do echo $x$1; done", {}, "aa\nba\n", 0, 0),
    # arithmetic
    ("echo $((7/2)) $((-7/2)) $((7%3)) $((-7%3)) $((2*(3+4))) $((1+2*3))", {}, "3 -3 1 -1 14 7\n", 0, 0),
    ("echo $((1<2)) $((2<=1)) $((3>2)) $((2>=3)) $((1==1)) $((1!=1))", {}, "1 0 1 0 1 0\n", 0, 0),
    ("echo $((!0)) $((!3)) $((-(-2))) $((+4)) $(( ( 1 + 2 ) * 3 ))", {}, "1 0 2 4 9\n", 0, 0),
    ("n=4; echo $((n*2)) $(($n+1)) $((n > 3 && n != 0)) $((0 || n))", {}, "8 5 1 1\n", 0, 0),
    ("echo $((x=5)) $((x+=2)) $x $((0x10 + 010)) $(( ))", {}, "5 7 7 24 0\n", 0, 0),
    ("echo $((UNSET + 1))", {}, "1\n", 0, 0),
    ("echo $((1 +)); echo never", {}, "", 2, 0),
    # command substitution
    ("echo $(echo $(echo nested)) `echo back` \"$(printf 'a\\n\\n')\"", {}, "nested back a\n", 0, 0),
    ("x=$(exit 3); echo $?; x=$(true); echo $?", {}, "3\n0\n", 0, 0),
    ('x="$(echo "a  b")"; echo "$x" `echo \\`echo deep\\``', {}, "a  b deep\n", 0, 0),
    # built-ins
    ("echo -n a; echo -e 'b\\tc'; echo -E 'd\\te'; echo 'f\\tg'", {}, "ab\tc\nd\\te\nf\\tg\n", 0, 0),
    ("echo -ne 'x\\ny\\c'; echo -e '\\0101\\x42'; echo -e '\\1'", {}, "x\nyAB\n\\1\n", 0, 0),
    ("printf 'hello\\n'", {}, "hello\n", 0, 0),
    ("printf '%s=%5d|%-3s|%x\\n' a 42 b 255 c 1", {}, "a=   42|b  |ff\nc=    1|   |0\n", 0, 0),
    ("printf '%s\\n' a b c", {}, "a\nb\nc\n", 0, 0),
    ("printf '%i%%%03d\\t%.2f %c%b' 7 5 3.14159 xyz 'n\\n'", {}, "7%005\t3.14 xn\n", 0, 0),
    ("printf '%s,%s\\n' 1 2 3; printf 'no args\\n' extra", {}, "1,2\n3,\nno args\n", 0, 0),
    ("printf '\\101\\x42\\n'", {}, "AB\n", 0, 0),
    ("printf 'a\\cb'; printf ''; printf; echo $?", {}, "a2\n", 0, 0),
    ("sleep 1m 2s; sleep .5; sleep 1h; sleep 1d", {}, "", 0, 62.5 + 3600 + 86400),
    ("sleep; echo $?", {}, "1\n", 0, 0),
    ("seq 3; seq 2 4; seq 5 -2 1; seq 3 1", {}, "1\n2\n3\n2\n3\n4\n5\n3\n1\n", 0, 0),
    ("seq 0 0.5 1", {}, "0.0\n0.5\n1.0\n", 0, 0),
    ("seq; echo $?; seq 1 0 3; echo $?; seq x; echo $?", {}, "1\n1\n1\n", 0, 0),
    ("true; echo $?; false; echo $?; :; echo $?", {}, "0\n1\n0\n", 0, 0),
    ("false; exit", {}, "", 1, 0),
    ("exit 300", {}, "", 44, 0),
    ("exit; echo never", {}, "", 0, 0),
    ("exec echo replaced; echo never", {}, "replaced\n", 0, 0),
    ("exec false; echo never", {}, "", 1, 0),
    ("exec >/dev/null; echo kept", {}, "kept\n", 0, 0),
    ("cat; echo $?; echo piped | cat; echo $?", {}, "0\npiped\n0\n", 0, 0),
    ("wget -q http://db; nc -z db 5432; curl -sf x; /docker-entrypoint.sh; trap 'exit 0' TERM", {}, "", 0, 0),
    ("/bin/echo abs; /usr/bin/sleep 2; /usr/bin/false", {}, "abs\n", 1, 2),
    # test / [ ]
    ('[ -z "" ] && [ -n x ] && [ x ] && ! [ "" ] && [ ! -z x ] && echo strings', {}, "strings\n", 0, 0),
    ("[ a = a ] && [ a == a ] && [ a != b ] && ! [ a = b ] && echo compare", {}, "compare\n", 0, 0),
    ("[ 2 -eq 2 ] && [ 1 -ne 2 ] && [ 1 -lt 2 ] && [ 2 -le 2 ] && echo ints", {}, "ints\n", 0, 0),
    ("[ 3 -gt 2 ] && [ 2 -ge 2 ] && [ -1 -lt 0 ] && echo more", {}, "more\n", 0, 0),
    ("[ 3 -lt 2 ]", {}, "", 1, 0),
    ("[ -f /etc/hosts ] || [ -e /tmp ] || [ -d / ] || echo no-files", {}, "no-files\n", 0, 0),
    ("[ a = b -o 1 -eq 1 ] && [ a = a -a ! b = c ] && test -n x && echo logic", {}, "logic\n", 0, 0),
    ('[[ -z "" ]] && [[ a == a ]] && echo double', {}, "double\n", 0, 0),
    ("[ ]; echo $?; test; echo $?", {}, "1\n1\n", 0, 0),
    # pipelines
    ("echo a | false", {}, "", 1, 0),
    ("false | true", {}, "", 0, 0),
    ("echo hidden | grep x; echo $?", {}, "0\n", 0, 0),
    ("printf 'a\\nb c\\n' | while read x y; do echo \"[$x|$y]\"; done", {}, "[a|]\n[b|c]\n", 0, 0),
    ("echo x | { read v; echo got $v; }", {}, "got x\n", 0, 0),
    ("echo x | exit 4; echo $?", {}, "4\n", 0, 0),
    ('echo x | read v; echo "[$v]"', {}, "[]\n", 0, 0),
    ("! echo a | false; echo $?", {}, "0\n", 0, 0),
    # set -e
    ("set -e; echo a; false; echo b", {}, "a\n", 1, 0),
    ("set -e; false || true; false && true; if false; then :; fi; ! true; echo ok", {}, "ok\n", 0, 0),
    ("set -e; while false; do :; done; x=$(false); echo never", {}, "", 1, 0),
    ("set -e; ! true | false; true | false; echo never", {}, "", 1, 0),
    ("set -eu -o pipefail; set +e; false; echo off", {}, "off\n", 0, 0),
    ("set -o errexit; false; echo never", {}, "", 1, 0),
    ("set -x; echo traced-quietly", {}, "traced-quietly\n", 0, 0),
    # exit status
    ("echo a; false", {}, "a\n", 1, 0),
    ("echo a; (exit 7)", {}, "a\n", 7, 0),
]


@pytest.mark.parametrize(("script", "env", "stdout", "code", "slept"), OUTCOME_CASES)
def test_outcome(script: str, env: dict[str, str], stdout: str, code: int, slept: float) -> None:
    assert _outcome(_steps(script, env)) == (stdout, code, slept)


HEAD = "HTTP/1.1 200 OK\nContent-Length: 0\n"
WGET_HEAD = "  HTTP/1.1 200 OK\n  Content-Length: 0\n"

# (script, stdout, stderr, exit code): every HTTP address answers 200 with an empty body
HTTP_CASES = [
    # wget: -S prints the head to stderr as busybox does, even with -q; the body is empty
    ("wget http://db; wget -q http://db; wget -qO- http://db; wget -O - http://db", "", "", 0),
    ("wget -S http://db", "", WGET_HEAD, 0),
    ("wget --server-response -q http://db", "", WGET_HEAD, 0),
    ("wget -qSO- http://db; wget -S -O /tmp/page --spider http://db", "", WGET_HEAD * 2, 0),
    ("wget -S -o /dev/null http://db; wget -So /dev/stdout http://db", WGET_HEAD, "", 0),
    ("wget -S -T 5 -t 3 --timeout=5 --tries 2 --no-check-certificate http://a http://b", "", WGET_HEAD * 2, 0),
    ("wget -S -O -S http://db", "", WGET_HEAD, 0),  # -S here names the output file
    ("wget -q -T 5", "", "wget: missing URL\n", 1),
    ("until wget -q --spider http://db:8080/health; do sleep 2; done; echo up", "up\n", "", 0),
    # curl: -o, -w, -I and -i; nothing can fail, so -s -S -f -L --max-time change nothing
    ("curl http://db; curl -sSfL --max-time 3 http://db; curl -fsS -o /dev/null http://db", "", "", 0),
    ("curl -s -o /dev/null -w '%{http_code}' http://db", "200", "", 0),
    ("curl -sw '%{http_code}\\n' http://db -o /dev/null", "200\n", "", 0),
    (
        "curl -w 'code=%{response_code}\\t%{url_effective} %{time_total} [%{nope}] 100%%' -so/dev/null x",
        "code=200\tx 0.000000 [] 100%",
        "",
        0,
    ),
    ("curl -s -w @/tmp/format http://db; curl -sO http://db/file", "", "", 0),
    ("curl -I http://db; curl --head -s -o /dev/null http://db", HEAD + "\n", "", 0),
    ("curl -si http://db; curl --include http://db -o /dev/stderr", HEAD + "\n", HEAD + "\n", 0),
    ("curl -s -H 'Accept: text/plain' -X POST -d '{}' -w '%{http_code}' --url http://db", "200", "", 0),
    ("curl -s -w '%{http_code} ' http://a http://b", "200 200 ", "", 0),
    ("curl -s -m 2", "", "curl: no URL specified!\n", 2),
    ('[ "$(curl -s -o /dev/null -w "%{http_code}" http://db)" = 200 ] && echo ready', "ready\n", "", 0),
    # awk: `pattern { action }` rules printing the record, fields and literals
    ("printf 'a b\\n c  d \\n' | awk '{print}'; echo x | awk ''", "a b\n c  d \n", "", 0),
    ("printf 'a b c\\n\\nd\\n' | awk '{print $2, $1 \"-\" $NF, $9}'", "b a-c \n - \n d-d \n", "", 0),
    ("printf 'a\\nb\\nc\\n' | awk 'NR==2'; printf 'a\\nb\\n' | awk 'NR != 1 {print \"not\", $0}'", "b\nnot b\n", "", 0),
    ("printf 'x1\\ny\\nx2\\n' | awk '/^x/'", "x1\nx2\n", "", 0),
    (
        "printf 'a\\nb\\n' | awk 'BEGIN { print \"start\" }\n{ print; print $1 }\nEND { print \"last\", $0 }'",
        "start\na\na\nb\nb\nlast b\n",
        "",
        0,
    ),
    ('echo \'a/b c\' | awk \'/a\\/b/ {print $2}; /zzz/ {print "never"} {print "q\\"\\tt"}\'', 'c\nq"\tt\n', "", 0),
    ("echo 'root:x:0' | awk -F: '{print $1, $3}'; echo 'a,b;c' | awk -F '[,;]' '{print $3}'", "root 0\nc\n", "", 0),
    ("printf 'a\\tb c\\n' | awk -F'\\t' '{print $2}'; echo 'a b' | awk -F ' ' '{print $2}'", "b c\nb\n", "", 0),
    (
        "echo piped | awk '{print}' /etc/hosts; echo piped | awk '{print}' - X=1; awk 'END {print \"end\"}' f",
        "piped\nend\n",
        "",
        0,
    ),
    ("awk 'BEGIN {print \"no input read\"}'", "no input read\n", "", 0),
    ("echo a | awk '{print $1'", "", "awk: syntax error\n", 2),
    ("echo a | awk '{printf \"%s\", $1}'; echo $?", "2\n", "awk: syntax error\n", 0),
    ("awk 'BEGIN'; awk '{print > \"f\"}'; awk '/a/ /b/'; awk 'NR==x'; awk '/(/'", "", "awk: syntax error\n" * 5, 2),
    (
        "awk -F '[(' '{print}'; awk -f prog.awk; awk",
        "",
        "awk: syntax error\nawk: can't open file prog.awk\nusage: awk [-F SEP] 'PROGRAM' [FILE...]\n",
        2,
    ),
    # the pipeline the microservices-demo load generator polls with
    (
        "S=$(wget --server-response http://f:80 2>&1 | awk '/^  HTTP/{print $2}'); [ $S -eq 200 ] && echo $S",
        "200\n",
        "",
        0,
    ),
    (
        "S=$(curl -sI http://f | awk '/^HTTP/{print $2}'); echo $S; /usr/bin/wget -S x 2>&1 | awk 'NR==1 {print $3}'",
        "200\nOK\n",
        "",
        0,
    ),
]


@pytest.mark.parametrize(("script", "stdout", "stderr", "code"), HTTP_CASES)
def test_http_tools(script: str, stdout: str, stderr: str, code: int) -> None:
    steps = _steps(script)
    errors = "".join(s.text for s in steps if isinstance(s, Output) and s.stream == "stderr")
    assert (*_outcome(steps), errors) == (stdout, code, 0, stderr)


# What a container's mounts could show: a Secret volume, a ConfigMap with an item in a subdirectory, a subPath
# file, a projected token (content unknown), an emptyDir, and an emptyDir nested in the ConfigMap's mount.
FILES = Files(
    {
        "/etc/creds": {"password": "s3cret", "user": "admin\n", "empty": ""},
        "/etc/app/": {"conf/app.yaml": "a: 1\nb: 2\n", "mode": "fast"},
        "/etc/app/cache": None,
        "/etc/token": {"": "tok"},
        "/var/run/sa": {"token": None, "ca.crt": "CA"},
        "/data": None,
    }
)
NO_SUCH = "No such file or directory"

# (script, stdout, stderr, exit code) with FILES mounted
FILE_CASES = [
    ("cat /etc/creds/password", "s3cret", "", 0),
    ("cat /etc/creds/user /etc/creds/password; echo", "admin\ns3cret\n", "", 0),
    ('P=$(cat /etc/creds/password); echo "[$P]"; /bin/cat /etc/token', "[s3cret]\ntok", "", 0),
    ("cat /etc/app/conf/app.yaml /etc/creds//../creds/./user", "a: 1\nb: 2\nadmin\n", "", 0),
    ("cat /etc/creds/nope; echo $?", "1\n", f"cat: /etc/creds/nope: {NO_SUCH}\n", 0),
    ("cat /etc/creds/user /etc/creds/nope /etc/token", "admin\ntok", f"cat: /etc/creds/nope: {NO_SUCH}\n", 1),
    ("cat /etc/creds", "", "cat: /etc/creds: Is a directory\n", 1),
    ("cat /etc/token/x", "", f"cat: /etc/token/x: {NO_SUCH}\n", 1),
    ("set -e; cat /etc/app/nope; echo never", "", f"cat: /etc/app/nope: {NO_SUCH}\n", 1),
    # unknown: the image's own files, an emptyDir (also one nested in a known mount), relative paths, options
    ("cat /etc/hostname /data/x /etc/app/cache/x creds/password; cat -n /etc/creds/user; echo $?", "0\n", "", 0),
    ("cat /var/run/sa/token; echo $?", "0\n", "", 0),
    ("echo in | cat - /etc/creds/user; echo piped | cat", "in\nadmin\npiped\n", "", 0),
    ('read -r pw < /etc/creds/password; echo "pw=$pw"', "pw=s3cret\n", "", 0),
    ('while read k v; do echo "$k=$v"; done < /etc/app/conf/app.yaml', "a:=1\nb:=2\n", "", 0),
    ("read -r x < /data/x; echo \"[$x]\"", "[]\n", "", 0),
    # test
    ("[ -f /etc/creds/password ] && [ -e /etc/token ] && [ -r /etc/creds/user ] && echo files", "files\n", "", 0),
    ("[ -d /etc/creds ] && [ -d /etc/app/conf ] && test -e /etc/app && echo dirs", "dirs\n", "", 0),
    ("[ -s /etc/creds/user ] && [ -s /var/run/sa/token ] && ! [ -s /etc/creds/empty ] && echo sizes", "sizes\n", "", 0),
    ("[ -f /etc/creds/nope ] || [ -f /etc/creds ] || [ -d /etc/token ] || [ -e /etc/token/x ] || echo no", "no\n", "",
     0),
    ("[ -f /data/x ] || [ -d /data ] || [ -d /etc/app/cache ] || [ -f /etc/hosts ] || [ -w /etc/creds/user ] || echo u",
     "u\n", "", 0),
    ("[[ -f /etc/creds/user ]] && echo double", "double\n", "", 0),
    # ls
    ("ls /etc/creds", "empty\npassword\nuser\n", "", 0),
    ("ls /etc/app; ls /etc/app/conf/; ls /etc/token", "cache\nconf\nmode\napp.yaml\n/etc/token\n", "", 0),
    ("ls /etc/app /etc/token /etc/creds/user", "/etc/creds/user\n/etc/token\n\n/etc/app:\ncache\nconf\nmode\n", "", 0),
    ("ls /etc/creds/nope /etc/app/conf", "/etc/app/conf:\napp.yaml\n",
     f"ls: cannot access '/etc/creds/nope': {NO_SUCH}\n", 2),
    ("ls; ls -l /etc/creds; ls /data /etc/creds; ls /etc; echo $?", "0\n", "", 0),
]


@pytest.mark.parametrize(("script", "stdout", "stderr", "code"), FILE_CASES)
def test_files_of_the_mounts(script: str, stdout: str, stderr: str, code: int) -> None:
    steps = _steps(script, files=FILES)
    errors = "".join(s.text for s in steps if isinstance(s, Output) and s.stream == "stderr")
    assert (*_outcome(steps), errors) == (stdout, code, 0, stderr)


def test_without_mounts_no_file_is_known() -> None:
    script = "cat /etc/creds/password; echo $?; [ -f /etc/creds/password ] || echo no; ls /etc/creds"
    assert _outcome(_steps(script)) == ("0\nno\n", 0, 0)


def test_exec_probes_read_the_mounts() -> None:
    ready = ["sh", "-c", 'test "$(cat /etc/app/mode)" = fast']
    assert probe(ready, {}, 1.0, FILES) == (0, "")
    assert probe(["cat", "/etc/creds/nope"], {}, 1.0, FILES) == (1, f"cat: /etc/creds/nope: {NO_SUCH}\n")
    assert probe(["cat", "/etc/creds/password"], {}, 1.0, FILES) == (0, "s3cret")


FRONTEND_CHECK = """\
MAX_RETRIES=12
RETRY_INTERVAL=10
for i in $(seq 1 $MAX_RETRIES); do
  echo "Attempt $i: Pinging frontend: ${FRONTEND_ADDR}..."
  STATUSCODE=$(wget --server-response http://${FRONTEND_ADDR} 2>&1 | awk '/^  HTTP/{print $2}')
  if [ $STATUSCODE -eq 200 ]; then
      echo "Frontend is reachable."
      exit 0
  fi
  echo "Error: Could not reach frontend - Status code: ${STATUSCODE}"
  sleep $RETRY_INTERVAL
done
echo "Failed to reach frontend after $MAX_RETRIES attempts."
exit 1
"""


def test_init_container_polling_a_service_comes_up() -> None:
    """GoogleCloudPlatform/microservices-demo's loadgenerator init container finds the frontend at once."""
    program = container_program(["/bin/sh", "-exc", FRONTEND_CHECK], None)
    assert program is not None
    steps = list(run(program, {"FRONTEND_ADDR": "frontend:80"}))
    assert steps == [out("Attempt 1: Pinging frontend: frontend:80...\nFrontend is reachable.\n"), Exit(0)]


# (script, steps taken, expected first steps) for programs that never end
ENDLESS_CASES = [
    (
        'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 1; done',
        5,
        [out("tick 1\n"), Sleep(1.0), out("tick 2\n"), Sleep(1.0), out("tick 3\n")],
    ),
    ("trap 'exit 0' TERM; while :; do sleep 1; done", 3, [Sleep(1.0)] * 3),
    ("trap : TERM INT; sleep infinity & wait", 1, [Sleep(math.inf)]),
    ("while true; do :; done", 3, [Sleep(0.0)] * 3),
    ("until false; do true; done", 2, [Sleep(0.0)] * 2),
    ("while true; do echo x; done", 3, [out("x\n" * 499), Sleep(0.0), out("x\n" * 500)]),
    ("for i in $(seq 1 5000); do :; done", 2, [Sleep(0.0)] * 2),
]


@pytest.mark.parametrize(("script", "count", "expected"), ENDLESS_CASES)
def test_endless_programs_keep_yielding(script: str, count: int, expected: list[Step]) -> None:
    assert _steps(script, limit=count) == expected


def test_run_takes_argv0_and_args() -> None:
    steps = list(run(parse('echo "$0|$1|$2|$#|$@"; echo ${10}'), {}, "/bin/sh", ["a b", "c"]))
    assert steps == [out("/bin/sh|a b|c|2|a b c\n\n"), Exit(0)]


def test_run_does_not_change_env() -> None:
    env = {"A": "1"}
    assert _outcome(_steps("A=2; B=3; echo $A$B", env))[0] == "23\n"
    assert env == {"A": "1"}


@pytest.mark.parametrize(
    "script",
    [
        "if then fi",
        "echo 'open",
        'echo "open',
        "echo $(echo",
        "echo `echo",
        "echo $((1 + 2",
        "echo ${X",
        "echo ${X%.txt}",
        "f() { echo; }",
        "case $x in a) echo;; esac",
        "cat <<EOF\nx\nEOF",
        "while true; done",
        "while true; do done",
        "for 1 in a; do :; done",
        "for x in a b do echo; done",
        "{ }",
        "{ echo a }",
        "( echo a",
        ")",
        "fi",
        "echo a |",
        "echo a &&",
        "; echo",
        "echo >",
    ],
)
def test_parse_errors(script: str) -> None:
    with pytest.raises(ParseError):
        parse(script)


Argv = list[str] | None

# (command, args, steps of the resulting program, or None for "unknown, runs forever silently")
CONTAINER_CASES = [
    (["sh", "-c", "echo $0 $1; exit 2", "zero", "one"], None, [out("zero one\n"), Exit(2)]),
    (["/bin/sh", "-c", "echo $0 $#"], None, [out("/bin/sh 0\n"), Exit(0)]),
    (["bash", "-ec", "false; echo never"], None, [Exit(1)]),
    (["/bin/ash", "-ce", "false; echo never"], None, [Exit(1)]),
    (["sh", "-euc", "false; echo never"], None, [Exit(1)]),
    (["dash", "-xc", "false; echo kept"], None, [out("kept\n"), Exit(0)]),
    (["/usr/bin/bash", "-o", "pipefail", "-c", "echo hi"], None, [out("hi\n"), Exit(0)]),
    (["bash", "--login", "-e", "-o", "errexit", "-c", "--", "false; echo never"], None, [Exit(1)]),
    (["sh", "-c"], ["echo from args"], [out("from args\n"), Exit(0)]),
    (None, ["sh", "-c", "echo image command replaced"], [out("image command replaced\n"), Exit(0)]),
    ([], ["/bin/sh", "-c", "sleep 3"], [Sleep(3.0), Exit(0)]),
    (["echo", "hello", "$(not expanded)"], None, [out("hello $(not expanded)\n"), Exit(0)]),
    (["/bin/sleep"], ["3600"], [Sleep(3600.0), Exit(0)]),
    (["printf", "%s-%s\\n", "a", "b"], None, [out("a-b\n"), Exit(0)]),
    (["seq", "2"], None, [out("1\n2\n"), Exit(0)]),
    (["true"], None, [Exit(0)]),
    (["wget", "-q", "http://db"], None, [Exit(0)]),
    (["/usr/bin/curl", "-sw", "%{http_code}", "http://db"], None, [out("200"), Exit(0)]),
    (["false"], None, [Exit(1)]),
    (["/app/server", "--port", "8080"], None, None),
    (["/app/server"], None, None),
    (None, None, None),
    ([], None, None),
    (None, [], None),
    (["sh", "-c", "if then fi"], None, None),
    (["sh", "-c"], None, None),
    (["sh", "/entrypoint.sh"], None, None),
    (["sh"], None, None),
    (["exit", "1"], None, None),
    (["cat"], None, None),
    (["/bin/cat", "-"], None, None),
    (["cat", "/etc/config"], None, [Exit(0)]),
    (["ls", "/etc"], None, [Exit(0)]),
    (["python", "-c", "print(1)"], None, None),
    (["nginx"], ["-g", "daemon off;"], None),
]


@pytest.mark.parametrize(("command", "args", "expected"), CONTAINER_CASES)
def test_container_program(command: Argv, args: Argv, expected: list[Step] | None) -> None:
    program = container_program(command, args)
    if expected is None:
        assert program is None
    else:
        assert program is not None
        assert list(run(program, {})) == expected


def test_container_program_reads_env() -> None:
    program = container_program(["sh", "-c", 'echo "$GREETING"'], None)
    assert program is not None
    assert list(run(program, {"GREETING": "hi"})) == [out("hi\n"), Exit(0)]


# (command, env, timeout seconds, exit code)
PROBE_CASES = [
    (["sh", "-c", "exit 1"], {}, 1, 1),
    (["sh", "-c", "exit 0"], {}, 1, 0),
    (["cat", "/tmp/healthy"], {}, 1, 0),
    (["/ready-probe.sh"], {}, 1, 0),
    (["pg_isready", "-h", "localhost"], {}, 1, 0),
    (["sh", "-c", "if then fi"], {}, 1, 0),
    (["sh", "-c", "sleep 5"], {}, 1, 1),
    (["sh", "-c", "sleep 1"], {}, 1, 0),
    (["sh", "-c", "sleep 0.5; sleep 0.6; exit 0"], {}, 1, 1),
    (["sh", "-c", "sleep infinity"], {}, 30, 1),
    (["sh", "-c", "while true; do :; done"], {}, 1, 1),
    (["sh", "-c", "[ -f /tmp/healthy ]"], {}, 1, 1),
    (["sh", "-c", 'test "$READY" = yes'], {"READY": "yes"}, 1, 0),
    (["sh", "-c", 'test "$READY" = yes'], {}, 1, 1),
    (["sh", "-c", "nc -z localhost 5432 && echo ok"], {}, 1, 0),
    (["false"], {}, 1, 1),
    (["curl", "-f", "http://localhost:8080/healthz"], {}, 1, 0),
    (["sh", "-c", '[ "$(curl -so /dev/null -w %{http_code} localhost)" = 200 ]'], {}, 1, 0),
    (["/bin/true"], {}, 1, 0),
    (["sleep", "2"], {}, 1, 1),
]


@pytest.mark.parametrize(("command", "env", "timeout", "code"), PROBE_CASES)
def test_probe_exit_code(command: list[str], env: dict[str, str], timeout: float, code: int) -> None:
    assert probe_exit_code(command, env, timeout) == code


def test_exec_of_an_unknown_program_runs_forever() -> None:
    program = container_program(["sh", "-c", "echo starting; exec nginx -g 'daemon off;'"], None)
    assert program is not None
    steps = list(itertools.islice(run(program, {}), 3))
    assert steps[:2] == [Output("starting\n", "stdout"), Sleep(math.inf)]
