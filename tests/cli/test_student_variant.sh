#!/bin/sh
# test_student_variant.sh: the student's build (student-N) is the fixed build
# with lab N's module taken from work/lab-N/, and nothing else swapped; the
# broken and fixed builds are as before. Read from make -n: nothing is built.
cd "$(dirname "$0")/../.." || exit 1

cmd=$(make -n -s build/tsan-gcc/student-3/racelab-stress 2>/dev/null | grep -- '-o build/tsan-gcc/student-3/')
case $cmd in
*" work/lab-3/payflow.c "*) echo "ok - student-3 compiles work/lab-3/payflow.c" ;;
*) echo "not ok - student-3 compiles work/lab-3/payflow.c: $cmd" ;;
esac
case $cmd in
*"broken/"* | *"fixed/payflow.c"*) echo "not ok - student-3 takes nothing else from broken/ or fixed/payflow.c" ;;
*" fixed/cache.c "*) echo "ok - student-3 takes every other module from fixed/" ;;
*) echo "not ok - student-3 takes every other module from fixed/: $cmd" ;;
esac
cmd=$(make -n -s -W Makefile build/release/broken-1/racelab-stress 2>/dev/null | grep -- '-o build/release/broken-1/')
case $cmd in
*" broken/cache.c "*"fixed/ledger.c"*) echo "ok - broken-1 still takes broken/cache.c" ;;
*) echo "not ok - broken-1 still takes broken/cache.c: $cmd" ;;
esac
