#!/bin/sh
# test_bench.sh: racelab-bench (make bench) on a tiny run: its command
# line, the shape of its report, every design measured in every table and
# its ratio to the floor worked out from the numbers beside it. No timing
# is asserted: that is what make bench and GUIDE.md are for.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
B=build/bench/racelab-bench
DESIGNS="floor mutex rwlock striped rcu"

expect_fail 2 "unknown option" $B --bogus
expect_fail 2 "stray argument" $B extra
expect_fail 2 "--rounds 0" $B --rounds 0
expect_fail 2 "--duration without a value" $B --duration
expect_fail 2 "bad thread list" $B --threads 1,x
expect_fail 2 "read percentage over 100" $B --mixes 101
check "--help" $B --help

out=$($B --duration 10 --rounds 2 --threads 1,2 --mixes 100,0 --keys 256 2>&1)
rc=$?
if [ $rc = 0 ]; then echo "ok - a tiny run exits 0"; else
	echo "not ok - a tiny run exits $rc: $(printf '%s\n' "$out" | tail -n 3)"; fi

tables=$(printf '%s\n' "$out" | grep -cE '^[12] threads?, (100|0)% reads \((reads|writes) only\)$')
if [ "$tables" = 4 ]; then echo "ok - 4 tables: 2 thread counts x 2 mixes"; else
	echo "not ok - $tables tables, want 4"; fi

cpus=$(printf '%s\n' "$out" | grep -cE '^  \(CPUs this process had while timed: [0-9]+\.[0-9]+ on average\)$')
if [ "$cpus" = 4 ]; then echo "ok - every table says how many CPUs the process had"; else
	echo "not ok - $cpus tables of 4 say how many CPUs the process had"; fi

# Each table: every design once, with both ns/op columns above 0 and each
# divided by the floor's equal to its "x floor" column beside it (to the
# printed precision).
for d in $DESIGNS; do
	rows=$(printf '%s\n' "$out" | awk -v d="$d" '
		function off(ns, floor, ratio) { x = ns / floor - ratio; return x < 0 ? -x : x }
		/^[12] threads?, / { fw = 0; fc = 0 }
		$1 == "floor" && NF >= 6 { fw = $2; fc = $4 }
		$1 == d && NF >= 6 && $2 + 0 > 0 && $4 + 0 > 0 && fw > 0 && fc > 0 {
			if (off($2, fw, $3) < 0.02 && off($4, fc, $5) < 0.02) n++
		}
		END { print n + 0 }')
	if [ "$rows" = 4 ]; then echo "ok - $d: measured in all 4 tables, ratios to the floor right"; else
		echo "not ok - $d: $rows good rows of 4"; fi
done

floor_ones=$(printf '%s\n' "$out" | grep -cE '^  floor +[0-9.]+ +1\.00 +[0-9.]+ +1\.00 ')
if [ "$floor_ones" = 4 ]; then echo "ok - the floor's ratio is 1.00 in every table"; else
	echo "not ok - the floor's ratio is 1.00 in $floor_ones tables of 4"; fi

story=$(printf '%s\n' "$out" | grep -cE '^    [12] threads?: *[-+][0-9.]+ ns per read, [-+][0-9.]+ ns per write \(cpu: [-+][0-9.]+, [-+][0-9.]+\)$')
if printf '%s\n' "$out" | grep -q '12ns per read' && [ "$story" = 2 ]; then
	echo "ok - the war story's claim, with rwlock minus floor at 1 and 2 threads"
else
	echo "not ok - the war story lines: $story of 2"
fi

if printf '%s\n' "$out" | grep -q 'every map held every key after every run$'; then
	echo "ok - every map held every key"; else echo "not ok - no all-keys-held summary"; fi

# Without the reads-only and writes-only mixes there is nothing to set
# beside the story: it says so instead of printing a number.
out=$($B --duration 5 --rounds 1 --threads 1 --mixes 90 --keys 64 2>&1)
if printf '%s\n' "$out" | grep -q 'not measured (needs --mixes with 100 and 0)'; then
	echo "ok - no story numbers without the reads-only and writes-only mixes"; else
	echo "not ok - story numbers without their mixes"; fi
