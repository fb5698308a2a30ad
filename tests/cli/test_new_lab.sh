#!/bin/sh
# test_new_lab.sh: a lab is its folder and the module its manifest names.
#
# In a copy of the tree, lab 2 (module ledger) is copied as lab 42 (module
# tally): its folder (manifest, handout, walkthrough, unit test, workload,
# expected table, grading's catalogue) and its module's header, broken and
# fixed files, with the names changed inside. No other file is edited but by
# make docs (GUIDE.md's lab table, expected/README.md's figures). The copy
# must then be a lab: make help lists lab-42, gdb-lab-42 and demo-lab-42,
# make knows grade-42, the stress driver runs lab 42, its unit test passes
# on the fixed twin, and check_rates.py measures its cells. Only the two
# release builds and the unit test are compiled.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=${PYTHON:-python3}

root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$tmp/src
mkdir "$src"
tar --exclude=./build --exclude=./results --exclude=./work --exclude=./.git -cf - . |
	tar -xf - -C "$src"
cd "$src" || exit 1

# The copy: lab 2's files under lab 42's and tally's names.
new() { # new FROM TO: copy FROM to TO with ledger -> tally, lab 2 -> lab 42
	mkdir -p "$(dirname "$2")"
	sed -e 's/ledger/tally/g; s/LEDGER/TALLY/g; s/Ledger/Tally/g' \
		-e 's/stress_lab2\b/stress_lab42/g; s/\blab2_/lab42_/g' \
		-e 's/^lab = 2$/lab = 42/; s/--lab 2\b/--lab 42/g; s#labs/lab-2-#labs/lab-42-#g' "$1" >"$2"
}
(cd labs/lab-2-ledger && find . -type f) | sort | while read -r f; do
	new "labs/lab-2-ledger/$f" "labs/lab-42-tally/$(printf '%s' "$f" | sed 's/ledger/tally/g')"
done
new include/ledger.h include/tally.h
new fixed/ledger.c fixed/tally.c
new broken/ledger.c broken/tally.c
t=labs/lab-42-tally/expected.tsv
awk 'BEGIN { FS = OFS = "\t" } NR > 1 { $1 = 42 } { print }' "$t" >"$t.new" && mv "$t.new" "$t"

# The registry: complete once make docs has written GUIDE.md's lab table
# (and the other regions it writes from the expected tables, lab 42's
# included).
out=$($PYTHON scripts/labs.py check 2>&1)
case $out in
"labs.py: GUIDE.md's lab table is not what"*) echo "ok - labs.py check: only GUIDE.md's lab table is behind" ;;
*) echo "not ok - labs.py check before make docs: $out" ;;
esac
make -s docs >"$tmp/docs" 2>&1
if $PYTHON scripts/labs.py check >/dev/null 2>&1 && grep -q '^| 42 | `tally` |' GUIDE.md &&
	make -s check-docs >"$tmp/docs" 2>&1; then
	echo "ok - make docs: lab 42 in GUIDE.md's table; labs.py check and make check-docs pass"
else
	echo "not ok - make docs: $($PYTHON scripts/labs.py check 2>&1 | head -n 3 | tr '\n' ' ')" \
		"$(tail -n 3 "$tmp/docs" | tr '\n' ' ')"
fi

# Nothing but new files, and the documents make docs writes.
x='--exclude=build --exclude=.git --exclude=results --exclude=work --exclude=__pycache__'
# shellcheck disable=SC2086
changed=$(diff -rq $x "$root" "$src" | sed "s|$src/||g; s|$root/||g" | sort | tr '\n' ';')
want="Files GUIDE.md and GUIDE.md differ;Files expected/README.md and expected/README.md differ;\
Only in broken: tally.c;Only in fixed: tally.c;Only in include: tally.h;\
Only in labs: lab-42-tally;"
if [ "$changed" = "$want" ]; then
	echo "ok - the new lab is new files only (and what make docs writes)"
else
	echo "not ok - the new lab changed more than new files: $changed"
fi

# Grading's self-test finds the copied catalogue (without grading it).
n=$(find labs/lab-42-tally/mutants -name '*.c' | wc -l | tr -d ' ')
got=$($PYTHON -c 'import sys; from pathlib import Path; sys.path.insert(0, "scripts")
import grade_selftest as g; print(len(g.catalogue(Path("labs"), [42], None, False)[42]))' 2>&1)
if [ "$n" -gt 0 ] && [ "$got" = "$n" ]; then
	echo "ok - grade_selftest.py finds lab 42's catalogue ($n entries in its mutants/)"
else
	echo "not ok - grade_selftest.py finds lab 42's catalogue: $got, want $n"
fi

# make: the lab's targets and help lines.
help=$(make -s help 2>&1)
for t in lab-42 gdb-lab-42 demo-lab-42 broken-42; do
	if printf '%s\n' "$help" | grep -q "^  $t "; then
		echo "ok - make help lists $t"
	else
		echo "not ok - make help lists $t"
	fi
done
case $(make -n -s grade-42 2>&1) in
*"scripts/grade.py 42"*) echo "ok - make grade-42 grades lab 42" ;;
*) echo "not ok - make grade-42 grades lab 42" ;;
esac
case $(make -n -s demo-lab-42 2>&1) in
*"broken-42/racelab-stress"*"gdb_walkthrough.py --lab 42"*) echo "ok - make demo-lab-42 builds broken-42 and runs its walkthrough" ;;
*) echo "not ok - make demo-lab-42 builds broken-42 and runs its walkthrough" ;;
esac

# The builds: the driver runs lab 42 (and says so when asked for a lab it
# lacks), its unit test passes.
if ! make -s -j2 build/release/broken-42/racelab-stress build/release/fixed/racelab-stress \
	build/tests/test_tally_fixed >"$tmp/make" 2>&1; then
	echo "not ok - the copy builds: $(tail -n 3 "$tmp/make" | tr '\n' ' ')"
	exit 0
fi
echo "ok - the copy builds (broken-42, fixed, test_tally_fixed)"
build/release/broken-42/racelab-stress --lab 42 --trials 1 >"$tmp/rec" 2>"$tmp/err"
rc=$?
if [ "$rc" -le 1 ] && grep -q '^{"lab":42,"variant":"broken-42"' "$tmp/rec" &&
	grep -q '^lab 42 broken-42 trial 1/1: ' "$tmp/err"; then
	echo "ok - racelab-stress --lab 42 runs lab 42's workload (exit $rc)"
else
	echo "not ok - racelab-stress --lab 42: exit $rc, $(head -c 300 "$tmp/err")"
fi
sed 's/^lab = 42$/lab = 41/' labs/lab-42-tally/scenario.conf >"$tmp/41.conf"
have=$($PYTHON scripts/labs.py list | cut -f 1 | paste -s -d , | sed 's/,/, /g')
err=$(build/release/fixed/racelab-stress --scenario "$tmp/41.conf" 2>&1 >/dev/null)
rc=$?
if [ "$rc" = 2 ] && [ "$err" = "racelab-stress: unknown lab 41: this driver runs labs $have" ]; then
	echo "ok - a lab the driver lacks: it names the labs it runs ($have)"
else
	echo "not ok - a lab the driver lacks: exit $rc, '$err' (want labs $have)"
fi
if build/tests/test_tally_fixed >"$tmp/unit" 2>&1; then
	echo "ok - test_tally_fixed passes"
else
	echo "not ok - test_tally_fixed: $(tail -n 3 "$tmp/unit" | tr '\n' ' ')"
fi

# check_rates.py: lab 42's cells, measured against its folder's expected.tsv.
$PYTHON scripts/check_rates.py --lab 42 --tool stress --trials 2 --results "$tmp/rates" \
	>"$tmp/out" 2>&1
if grep -q '^| 42 | broken | stress | spread | symptom | .* | ok |$' "$tmp/out" &&
	grep -q '^| 42 | fixed | stress | spread | violation | .* | ok |$' "$tmp/out"; then
	echo "ok - check_rates.py --lab 42 measures lab 42's cells against its expected.tsv"
else
	echo "not ok - check_rates.py --lab 42: $(tail -n 5 "$tmp/out" | tr '\n' ' ')"
fi

# A service lab (kind = service: replicas of racelab-service over one
# database) beside it: lab 43, module tallydb. Its folder holds the
# manifest, the handout and the expected table, nothing of the stress
# driver's; the registry checks it, GUIDE.md's table lists it, and nothing
# that runs the stress driver is made for it or takes it.
d=labs/lab-43-tallydb
mkdir "$d"
cat >"$d/scenario.conf" <<'CONF'
lab = 43
kind = service
title = a tally across two processes
teaches = a tally kept by two processes over one database
broken_modules = tallydb
race_file = broken/tallydb.c
race_functions = tallydb_add
demo = scripts/labs.py list --kind service
CONF
printf '# lab 43\n' >"$d"/README.md
printf 'lab\tbuild\ttool\tconfig\tmetric\tband_low\tband_high\tsuccesses\ttrials\tnote\n43\tbroken\treplicas\treplicas=2\tsymptom\t0.5\t1\t9\t10\ttwo processes\n' \
	>"$d/expected.tsv"
for side in broken fixed; do
	printf '/* tallydb: the tally of lab 43 */\nint tallydb_add(int x)\n{\n\treturn x + 1;\n}\n' >$side/tallydb.c
done
printf 'int tallydb_add(int x);\n' >include/tallydb.h
make -s docs >"$tmp/docs" 2>&1
# (the tree's own service labs, if any, are listed beside 43)
if $PYTHON scripts/labs.py check >"$tmp/out" 2>&1 && grep -qE '\(service labs?: ([0-9]+, )*43\)' "$tmp/out" &&
	grep -q '^| 43 | `tallydb` (a service lab' GUIDE.md && make -s check-docs >"$tmp/docs" 2>&1; then
	echo "ok - a service lab: labs.py check and make check-docs pass, GUIDE.md's table lists it"
else
	echo "not ok - a service lab: $(head -n 3 "$tmp/out" | tr '\n' ' ') $(tail -n 3 "$tmp/docs" | tr '\n' ' ')"
fi
vars=$(make -s -p -n help 2>/dev/null | grep -E '^(LABS|SERVICE_LABS|MODULES) :=' | sort | tr '\n' ';')
case $vars in
"LABS := "*" 42;MODULES := "*";SERVICE_LABS := "*"43;")
	case $vars in
	*tallydb*) echo "not ok - a service lab's module is not one of the stress builds': $vars" ;;
	*) echo "ok - make: SERVICE_LABS := 43, not in LABS, its module not in MODULES" ;;
	esac ;;
*) echo "not ok - make's lab lists with a service lab: $vars" ;;
esac
help=$(make -s help 2>&1)
if printf '%s\n' "$help" | grep -qE '^  (gdb-lab|demo-lab|broken|explore-lab)-43 '; then
	echo "not ok - make help lists a stress target of service lab 43"
else
	echo "ok - make help lists no stress target of service lab 43"
fi
if grep -q 'stress_lab42' build/gen/stress_labs.c && ! grep -q 'stress_lab43' build/gen/stress_labs.c; then
	echo "ok - the stress driver's registry leaves service lab 43 out"
else
	echo "not ok - the stress driver's registry and service lab 43: $(grep -c stress_lab4 build/gen/stress_labs.c)"
fi
want="lab 43 is a service lab (service processes sharing a database, not the stress driver): make lab-43 runs it"
for cmd in "make -s gdb-lab-43" "make -s grade-43" "$PYTHON scripts/lab.py 43" \
	"$PYTHON scripts/check_rates.py --lab 43"; do
	$cmd >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" = 2 ] && [ ! -s "$tmp/out" ] && grep -qF ": $want" "$tmp/err"; then
		echo "ok - $cmd refuses service lab 43, saying why"
	else
		echo "not ok - $cmd: exit $rc, $(head -c 300 "$tmp/err")"
	fi
done
