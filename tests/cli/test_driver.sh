#!/bin/sh
# test_driver.sh: the stress driver's command line, on the release builds.
# Bad input: one clear line on stderr, exit 2, nothing on stdout.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
B=build/release/fixed/racelab-stress
BB=build/release/broken-1/racelab-stress

expect_fail 2 "unknown lab" $B --lab 9
expect_fail 2 "--threads 0" $B --lab 1 --threads 0
expect_fail 2 "bad CPU list" $B --lab 1 --cpus 0,x
expect_fail 2 "CPU not on this machine" $B --lab 1 --cpus 1000
expect_fail 2 "unknown pinning" $B --lab 1 --pin sideways
expect_fail 2 "memory node not on this machine" $B --lab 1 --mem-node 63
expect_fail 2 "missing scenario file" $B --scenario /nonexistent/scenario.conf
expect_fail 2 "unknown --set key" $B --lab 1 --set foo=1
expect_fail 2 "out-of-range lab parameter" $B --lab 1 --set keys_shared=0
expect_fail 2 "unknown option" $B --lab 1 --bogus
expect_fail 2 "stray argument" $B --lab 1 extra
expect_fail 2 "--topology-desc without --topology" $B --lab 1 --topology-desc "0:0-1"
expect_fail 2 "bad topology description" $B --lab 1 --topology --topology-desc "0:0-1;0:2"
check "--help" $B --help

# A clean run of the fixed build: exit 0, one JSON record per trial.
out=$($B --lab 1 --ops 2000 --rounds 1 --trials 3 --quiet --mem-node 0)
rc=$?
n=$(printf '%s\n' "$out" | grep -c '"outcome":"clean"')
if [ $rc = 0 ] && [ "$n" = 3 ]; then echo "ok - fixed build: 3 clean trial records"; else
	echo "not ok - fixed build: exit $rc, $n clean records"; fi

# Placement on described topologies (the logic is unit-tested in test_topo).
out=$($B --lab 1 --topology --topology-desc "0:0-3;1:4-7" --threads 4 | grep -c 'node 1')
[ "$out" = 2 ] && echo "ok - spread alternates two nodes" || echo "not ok - spread alternates two nodes ($out)"

# The broken build under the lab's own scenario: a symptom is expected, but
# one run proves nothing, so this only checks the record is well formed or
# the process died of the race (the rate check measures the rest).
# (the exit status is echoed from inside, so that a death by signal is not
# announced on the terminal by the shell that waited for it)
out=$(exec 2>/dev/null; $BB --lab 1 --quiet; echo "exit=$?")
rc=${out##*exit=}
case $rc in
0 | 1 | 3) printf '%s\n' "$out" | grep -q '"lab":1,"variant":"broken-1"' &&
	echo "ok - broken build prints its record (exit $rc)" ||
	echo "not ok - broken build exit $rc without a record" ;;
*) echo "ok - broken build died of the race (exit $rc)" ;;
esac
