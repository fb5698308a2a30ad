"""Shared by the script tests: import paths, fixtures, a throw-away lab tree.

The tests never need the real binaries: the runner is pointed (through
RACELAB_ROOT and RACELAB_BUILD_DIR) at a temporary tree holding a scenario
and fake_stress.py in place of racelab-stress.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCRIPTS = REPO / "scripts"
FIXTURES = REPO / "tests" / "fixtures"
sys.path.insert(0, str(SCRIPTS))

SCENARIO = """\
# a scenario for the tests
lab = 1
race_file = broken/cache.c
race_functions = cache_get cache_put cache_grow find_link
threads = 2
pinning = spread
time_limit_s = 5
tsan.time_limit_s = 7
"""

# Enough of a broken module for race points to be found by scanning.
CACHE_C = """\
static int helper(void)
{
	return 0;
}

bool cache_put(struct cache *c, const char *user_id)
{
	struct cache_node **link = find_link(c, user_id);
	RACE_POINT("cache.put.window");
	*link = fresh;
	return true;
}
"""


def fixture(name, mode="r"):
    with open(FIXTURES / name, mode) as f:
        return f.read()


class FakeTree:
    """A temporary repository: labs/lab-1-test/, broken/cache.c and
    build/<flavour>/<variant>/racelab-stress -> fake_stress.py."""

    def __init__(self, flavours=("release", "tsan-clang", "debug"), variants=("broken-1", "fixed")):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-test-")
        self.root = Path(self._tmp.name)
        (self.root / "labs" / "lab-1-test").mkdir(parents=True)
        (self.root / "labs" / "lab-1-test" / "scenario.conf").write_text(SCENARIO)
        (self.root / "broken").mkdir()
        (self.root / "broken" / "cache.c").write_text(CACHE_C)
        for flavour in flavours:
            for variant in variants:
                d = self.root / "build" / flavour / variant
                d.mkdir(parents=True)
                (d / "racelab-stress").symlink_to(HERE / "fake_stress.py")
        # The real trial launcher (make builds it), so that trials run as
        # in the tree.
        launcher = REPO / "build" / "bin" / "racelab-rusage"
        if launcher.is_file():
            (self.root / "build" / "bin").mkdir(parents=True)
            (self.root / "build" / "bin" / "racelab-rusage").symlink_to(launcher)
        self.results = self.root / "results"

    def env(self, **extra):
        env = dict(os.environ, RACELAB_ROOT=str(self.root),
                   RACELAB_BUILD_DIR=str(self.root / "build"))
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def cleanup(self):
        self._tmp.cleanup()

    def files(self):
        """Every file under the tree except the fixed inputs, for 'nothing written'."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file() and "build" not in p.parts and "labs" not in p.parts
                      and p.parts[-2:] != ("broken", "cache.c"))


def run_script(name, *args, env=None, cwd=None, prefix=(), scripts=SCRIPTS,
               python=sys.executable, timeout=120):
    """Runs scripts/<name> (under the `prefix` command, if any) with nothing
    on stdin and returns (exit status, stdout, stderr)."""
    r = subprocess.run([*prefix, python, str(Path(scripts) / name), *map(str, args)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                       cwd=cwd, timeout=timeout)
    return r.returncode, r.stdout, r.stderr
