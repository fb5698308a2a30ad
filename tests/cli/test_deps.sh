#!/bin/sh
# test_deps.sh: the deps script names the apt-get line and exits 2 when a
# package is missing and it may not install (not root, or --check).
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

fake=racelab-no-such-package
expect_fail 2 "--check with a missing package" env RACELAB_DEPS_EXTRA=$fake sh scripts/deps.sh --check
expect_fail 2 "unknown argument" sh scripts/deps.sh --bogus

# As an unprivileged user (the script is fed on stdin, so the test does not
# depend on who may read the checkout).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	err=$(env RACELAB_DEPS_EXTRA=$fake setpriv --reuid=65534 --regid=65534 --clear-groups \
		sh -s <scripts/deps.sh 2>&1 >/dev/null)
	rc=$?
	case "$rc:$err" in
	"2:"*"apt-get install -y $fake"*) echo "ok - not root: names the apt-get line, exit 2" ;;
	*) echo "not ok - not root: exit $rc, said: $err" ;;
	esac
else
	err=$(env RACELAB_DEPS_EXTRA=$fake sh scripts/deps.sh 2>&1 >/dev/null)
	rc=$?
	case "$rc:$err" in
	"2:"*"apt-get install -y $fake"*) echo "ok - not root: names the apt-get line, exit 2" ;;
	*) echo "not ok - not root: exit $rc, said: $err" ;;
	esac
fi
check "nothing missing: exit 0" sh scripts/deps.sh --check
