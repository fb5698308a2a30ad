#!/bin/sh
# test_student_variant.sh: the student's build (student-N) is the fixed build
# with lab N's module taken from work/lab-N/, and nothing else swapped; the
# broken and fixed builds are as before. Read from make -n: nothing is built.
cd "$(dirname "$0")/../.." || exit 1

plan=$(make -n -s -B build/tsan-gcc/student-3/racelab-stress 2>/dev/null)
case $(printf '%s\n' "$plan" | grep -- '-o build/tsan-gcc/student-3/payflow.o') in
*" work/lab-3/payflow.c") echo "ok - student-3 compiles work/lab-3/payflow.c" ;;
*) echo "not ok - student-3 compiles work/lab-3/payflow.c" ;;
esac
link=$(printf '%s\n' "$plan" | grep -- '-o build/tsan-gcc/student-3/racelab-stress')
case $link in
*"broken/"* | *"obj/fixed/payflow.o"*) echo "not ok - student-3 links nothing else from broken/ or fixed/payflow.c" ;;
*" build/tsan-gcc/obj/fixed/cache.o "*"student-3/payflow.o"*) echo "ok - student-3 links every other module from fixed/" ;;
*) echo "not ok - student-3 links every other module from fixed/: $link" ;;
esac
case $(printf '%s\n' "$plan" | grep -- '-o build/tsan-gcc/student-3/main.o') in
*"-DRACELAB_VARIANT='\"student-3\"'"*"-fsanitize=thread"* | *"-fsanitize=thread"*"-DRACELAB_VARIANT='\"student-3\"'"*)
	echo "ok - student-3's driver says student-3, with the flavour's flags" ;;
*) echo "not ok - student-3's driver says student-3, with the flavour's flags" ;;
esac
cmd=$(make -n -s -W Makefile build/release/broken-1/racelab-stress 2>/dev/null | grep -- '-o build/release/broken-1/')
case $cmd in
*" broken/cache.c "*"fixed/ledger.c"*) echo "ok - broken-1 still takes broken/cache.c" ;;
*) echo "not ok - broken-1 still takes broken/cache.c: $cmd" ;;
esac
