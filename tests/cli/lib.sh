# lib.sh: helpers for the command-line tests, TAP-style: each check prints
# "ok - what" or "not ok - what: why"; tests/run.sh counts them.

# expect_fail CODE WHAT CMD...: CMD exits CODE and prints exactly one line
# on stderr and nothing on stdout.
expect_fail() {
	want=$1 what=$2
	shift 2
	out=$("$@" 2>/tmp/racelab-cli-err.$$)
	rc=$?
	lines=$(wc -l </tmp/racelab-cli-err.$$)
	if [ "$rc" = "$want" ] && [ "$lines" = 1 ] && [ -z "$out" ]; then
		echo "ok - $what ($(cat /tmp/racelab-cli-err.$$))"
	else
		echo "not ok - $what: exit $rc (want $want), $lines stderr lines, stdout '$out': $(head -c 300 /tmp/racelab-cli-err.$$)"
	fi
	rm -f /tmp/racelab-cli-err.$$
}

# check WHAT CMD...: CMD succeeds.
check() {
	what=$1
	shift
	if "$@" >/dev/null 2>&1; then echo "ok - $what"; else echo "not ok - $what"; fi
}
