#!/bin/sh
# deps.sh: make sure the Debian packages racelab needs are installed.
#
# Run by the first make target that needs them; safe to run again (it only
# asks dpkg what is missing). As root it installs what is missing with
# apt-get; as anyone else it prints the one apt-get line to run and exits 2.
set -eu

usage() {
	cat <<'USAGE'
usage: scripts/deps.sh [--check] [--list]

Installs the Debian packages racelab needs (as root), or names the
apt-get line to run (as anyone else, exit 2).

  --check   only report what is missing; never install (exit 2 if any)
  --list    print the package list and exit
  RACELAB_DEPS_EXTRA="pkg ..."  also require these packages (for tests)
USAGE
}

# What each package is for:
#   make gcc           build; gcc also gives the gcc ThreadSanitizer flavour
#   libtsan2           gcc's ThreadSanitizer runtime
#   clang libclang-rt-14-dev   clang and its ThreadSanitizer runtime
#   valgrind           Helgrind (and DRD)
#   gdb                debugging the debug flavour (-O0 -g, race points)
#   libcmocka-dev      unit tests
#   libnuma-dev        topology, pinning and memory placement
#   numactl            numactl --hardware: the machine's nodes, to compare
#                      with racelab-stress --topology
#   python3            the trial runner, parsers and report
#   util-linux         setpriv (the tests run commands as an unprivileged
#                      user) and setarch (ThreadSanitizer on some kernels)
#   clang-format       the C style check in make test
#   liburcu-dev        make bench: liburcu's RCU lock-free hash table, the
#                      cache design from outside racelab (bench/cache_rcu.c)
#   gnuplot-nox        the report's charts (report.py --html), no X needed
#   chromium           not here: only for looking at the HTML report in a
#                      headless browser (make report-screenshot installs it
#                      through RACELAB_DEPS_EXTRA=chromium)
#   libmicrohttpd-dev  racelab-service's HTTP server
#   libjansson-dev     racelab-service's JSON parser
#   libsqlite3-dev     racelab-service's ledger (SQLite, WAL mode, one file)
#   wrk                the HTTP benchmark racelab-loadgen is compared with
#   postgresql         the server the tests and lab 11 start for a ledger
#                      several service processes share (scripts/pgserver.py:
#                      its own directory and socket, as nobody under root).
#                      The package also makes a default cluster, which
#                      nothing here uses: without systemd (or behind a
#                      policy-rc.d) it is never started, and if it runs it
#                      holds port 5432 and /var/run/postgresql, neither ours
#   libpq-dev          racelab-service's PostgreSQL client library
PACKAGES="make gcc libtsan2 clang libclang-rt-14-dev clang-format valgrind gdb libcmocka-dev libnuma-dev numactl python3 util-linux liburcu-dev gnuplot-nox libmicrohttpd-dev libjansson-dev libsqlite3-dev wrk postgresql libpq-dev"

check_only=0
for arg in "$@"; do
	case "$arg" in
	-h | --help) usage; exit 0 ;;
	--check) check_only=1 ;;
	--list) echo $PACKAGES ${RACELAB_DEPS_EXTRA:-}; exit 0 ;;
	*) echo "deps.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
	esac
done

missing=""
for p in $PACKAGES ${RACELAB_DEPS_EXTRA:-}; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$status" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done
missing=${missing# }

[ -z "$missing" ] && exit 0

if [ "$check_only" = 1 ] || [ "$(id -u)" != 0 ]; then
	echo "racelab: missing packages: $missing; as root, run: apt-get update && apt-get install -y $missing" >&2
	exit 2
fi

echo "racelab: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! apt-get update -qq >"$log" 2>&1; then
	echo "racelab: apt-get update failed ($(tail -n 1 "$log")); cannot install: $missing" >&2
	rm -f "$log"
	exit 2
fi
# shellcheck disable=SC2086
if ! apt-get install -y -qq --no-install-recommends $missing >"$log" 2>&1; then
	echo "racelab: apt-get install failed for: $missing ($(tail -n 1 "$log"))" >&2
	rm -f "$log"
	exit 2
fi
rm -f "$log"
echo "racelab: installed $missing" >&2
