#!/bin/sh
# test_loadgen.sh: racelab-loadgen against tests/scripts/fake_service.py,
# one fault at a time, so every error kind is counted exactly (every Nth
# payment misbehaves; 100 requests, every 10th: 10 errors of that kind).
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
L=build/release/loadgen/racelab-loadgen
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
fake=""
trap '[ -n "$fake" ] && kill "$fake" 2>/dev/null; rm -rf "$tmp"' EXIT

expect_fail 2 "--connections 0" $L --connections 0
expect_fail 2 "--requests not a number" $L --requests ten
expect_fail 2 "--requests and --duration" $L --requests 5 --duration 1
expect_fail 2 "bad --users" $L --users everyone
expect_fail 2 "three decimals in --amount" $L --amount 1.234
expect_fail 2 "--url without a port number" $L --url http://127.0.0.1:x
expect_fail 2 "--url with a path" $L --url http://127.0.0.1:80/process-payment
expect_fail 2 "unknown option" $L --bogus
expect_fail 2 "--rate 0" $L --rate 0
expect_fail 2 "--threads 0" $L --threads 0
expect_fail 2 "stray argument" $L extra
expect_fail 2 "--json in a missing directory" $L --json /nonexistent/dir/out.json
check "--help" $L --help

# One fake process, one server per case ("NAME URL" lines). The file is
# made first: the background job opens it only once it has forked.
: >"$tmp/urls"
timeout 120 $PYTHON tests/scripts/fake_service.py --case clean: --case status:fail-every=10 \
	--case reset:reset-every=10 --case timeout:delay-every=10,delay-ms=1500 \
	--case leak:leak-every=10 --case protocol:bad-every=10 --case close:close-every=3 \
	--case keepalive: --case unique: --case duration: >"$tmp/urls" 2>"$tmp/fake.err" &
fake=$!
i=0
while [ "$(wc -l <"$tmp/urls")" -lt 10 ] && [ $i -lt 600 ] && kill -0 "$fake" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if [ "$(wc -l <"$tmp/urls")" -lt 10 ]; then
	echo "not ok - the fake service did not start ($i tries): $(tail -n 1 "$tmp/fake.err")"
	exit 0
fi
url() { sed -n "s/^$1 //p" "$tmp/urls"; }

# field NAME KEY: a number from the loadgen's one-line JSON (keys are unique).
field() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$tmp/$1.json" 2>/dev/null; }

# run_case NAME SERVER WANT_EXIT KEY WANT LOADGEN_ARGS...
run_case() {
	name=$1 server=$2 want_rc=$3 key=$4 want=$5
	shift 5
	timeout 30 $L --url "$(url "$server")" --requests 100 --json "$tmp/$name.json" "$@" \
		>"$tmp/$name.txt" 2>&1
	rc=$?
	got=$(field "$name" "$key")
	if [ "$rc" = "$want_rc" ] && [ "$got" = "$want" ]; then
		echo "ok - $name: $key = $want, exit $rc"
	else
		echo "not ok - $name: $key = '$got' (want $want), exit $rc (want $want_rc): $(tail -n 1 "$tmp/$name.txt")"
	fi
}

run_case clean clean 0 errors 0 -c 4
# The 100 requests are shared by the workers as they come, so a worker
# may send fewer than 10 (and use fewer than its 10 users); but every
# user is charged once and then answered from the cache.
paid=$(field clean distinct) cached=$(field clean cached) users=$(field clean users)
if [ -n "$paid" ] && [ "$paid" = "$users" ] && [ "$paid" -ge 10 ] && [ "$paid" -le 40 ] &&
	[ $((paid + cached)) = 100 ]; then
	echo "ok - story users: $paid users charged once, the other $cached answers from the cache"
else
	echo "not ok - story users: $paid payments for $users users, $cached cached (want 10-40, and 100 in all)"
fi
grep -q '^verdict: PASS: error rate 0.00% (0 of 100) within the 5% threshold$' "$tmp/clean.txt" &&
	echo "ok - the verdict line" || echo "not ok - the verdict line: $(grep verdict "$tmp/clean.txt")"

run_case status status 0 500 10 -c 2 --threshold 10
run_case status-verdict status 1 errors 10 -c 2
run_case reset reset 1 reset 10 -c 2
run_case timeout timeout 1 timeout 10 -c 2 --timeout-ms 300
run_case leak leak 1 leak 10 -c 2 --threshold 50
run_case protocol protocol 1 protocol 10 -c 2
run_case close close 0 errors 0 -c 2
run_case no-keepalive keepalive 0 errors 0 -c 2 --no-keepalive --users unique --amount varied
run_case unique unique 0 distinct 100 -c 3 --users unique

# --duration: stops on time (the in-flight requests end within ms).
timeout 30 $L --url "$(url duration)" --duration 1 -c 2 --json "$tmp/duration.json" >/dev/null 2>&1
rc=$?
got=$(field duration elapsed_s)
case "$rc:$got" in
0:1.*) echo "ok - --duration 1 ran for $got s" ;;
*) echo "not ok - --duration 1: exit $rc, elapsed '$got'" ;;
esac

# Nobody listening: every request a connect error, and the run still ends.
port=$(sed -n 's/^clean http:\/\/127.0.0.1://p' "$tmp/urls")
kill "$fake" 2>/dev/null
wait "$fake" 2>/dev/null
timeout 30 $L --url "http://127.0.0.1:$port" --requests 20 --json "$tmp/refused.json" >/dev/null 2>&1
rc=$?
got=$(field refused connect)
[ "$rc" = 1 ] && [ "$got" = 20 ] && echo "ok - nobody listening: 20 connect errors, exit 1" ||
	echo "not ok - nobody listening: $got connect errors, exit $rc"
