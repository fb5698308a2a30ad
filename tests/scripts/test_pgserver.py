"""racelab.pgserver and scripts/pgserver.py: a real PostgreSQL server in a
temporary directory, started and stopped as the service's tests need it."""

import os
import signal
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from helpers import run_script
from racelab import pgserver
from racelab.cli import Failure


def binaries():
    try:
        return pgserver.find_bin_dir()
    except Failure:
        return None


# As root, scripts/deps.sh installs the server: there a missing one fails.
SKIP = binaries() is None and os.geteuid() != 0
WHY = "PostgreSQL's server is not installed (Debian package postgresql; scripts/deps.sh)"


def uid_of(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


@unittest.skipIf(SKIP, WHY)
class OneServer(unittest.TestCase):
    """A server with the default settings, shared by these tests."""

    @classmethod
    def setUpClass(cls):
        cls.pg = pgserver.Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def test_table_round_trip(self):
        self.pg.psql("CREATE TABLE pay (id serial PRIMARY KEY, cents bigint NOT NULL)")
        self.pg.psql("INSERT INTO pay (cents) VALUES (250), (1999)")
        self.assertEqual(self.pg.psql("SELECT id, cents FROM pay ORDER BY id"),
                         "1|250\n2|1999\n")

    def test_conninfo_names_socket_and_database(self):
        ci = dict(kv.split("=", 1) for kv in self.pg.conninfo.split())
        self.assertEqual((ci["dbname"], ci["user"]), ("racelab", "racelab"))
        self.assertEqual(ci["host"], str(self.pg.socket_dir))
        sock = Path(ci["host"]) / f".s.PGSQL.{ci['port']}"
        self.assertTrue(sock.is_socket())
        self.assertLess(len(str(sock).encode()), 107)
        self.assertEqual(self.pg.psql("SELECT current_database(), current_user"),
                         "racelab|racelab\n")

    def test_settings(self):
        show = self.pg.psql("SHOW listen_addresses; SHOW fsync; SHOW synchronous_commit; "
                            "SHOW max_connections")
        listen, fsync, sync, conns = show.split("\n")[:4]
        # No TCP; durable unless asked for fast=True.
        self.assertEqual((listen, fsync, sync), ("", "on", "on"))
        self.assertGreaterEqual(int(conns), 100)

    def test_runs_unprivileged(self):
        self.assertEqual(uid_of(self.pg.pid), 65534 if os.geteuid() == 0 else os.geteuid())

    def test_psql_error_is_one_line(self):
        with self.assertRaises(Failure) as e:
            self.pg.psql("SELECT 1;\nSELECT * FROM no_such_table;")
        self.assertEqual(str(e.exception),
                         'psql: ERROR:  relation "no_such_table" does not exist')


@unittest.skipIf(SKIP, WHY)
class Lifetimes(unittest.TestCase):
    def assertGone(self, family, dirs):
        for pid in family:
            self.assertFalse(pgserver.living(pid), f"process {pid} outlived stop()")
        for d in dirs:
            self.assertFalse(d.exists(), f"{d} outlived stop()")

    def test_two_servers_apart_then_gone(self):
        with tempfile.TemporaryDirectory(prefix="racelab-test-") as base:
            Path(base).chmod(0o755)  # nobody must enter it when we are root
            with pgserver.Server(fast=True) as a, \
                    pgserver.Server(base_dir=base, fast=True) as b:
                self.assertNotEqual(a.conninfo, b.conninfo)
                self.assertEqual(b.data_dir.parent.parent, Path(base).resolve())
                self.assertTrue(str(b.socket_dir).startswith("/tmp/rlpg-"))
                self.assertEqual(a.psql("SHOW fsync; SHOW synchronous_commit"), "off\noff\n")
                a.psql("CREATE TABLE only_in_a (x int); INSERT INTO only_in_a VALUES (7)")
                self.assertEqual(a.psql("SELECT x FROM only_in_a"), "7\n")
                with self.assertRaisesRegex(Failure, "only_in_a"):
                    b.psql("SELECT x FROM only_in_a")
                families = pgserver.family(a.pid) + pgserver.family(b.pid)
                self.assertGreater(len(families), 2)  # the postmasters and their helpers
                dirs = (a.root, a.socket_dir, b.root, b.socket_dir)
            self.assertGone(families, dirs)
            self.assertEqual(os.listdir(base), [])
            a.stop()  # twice is harmless

    def test_hung_server_is_killed(self):
        pg = pgserver.Server(fast=True).start()
        pg.psql("SELECT 1")
        family = pgserver.family(pg.pid)
        dirs = (pg.root, pg.socket_dir)
        os.kill(pg.pid, signal.SIGSTOP)  # deaf to the fast shutdown's SIGINT
        pg.timeout_s = 1  # stop()'s wait before SIGKILL
        pg.stop()
        self.assertGone(family, dirs)

    def test_failed_start_leaves_nothing(self):
        class Broken(pgserver.Server):
            def settings(self):
                self.made = (self.root, self.socket_dir)
                return {**super().settings(), "shared_buffers": "'lots'"}

        pg = Broken(fast=True)
        with self.assertRaisesRegex(Failure, "postgres exited .* before it accepted "
                                    "connections: .*shared_buffers"):
            pg.start()
        self.assertGone([pg.proc.pid], pg.made)


class MissingBinaries(unittest.TestCase):
    def test_one_line_naming_the_packages(self):
        with mock.patch.object(pgserver, "PG_LIB", Path("/nonexistent/postgresql")), \
                mock.patch.dict(os.environ, {"PATH": "/nonexistent"}):
            with self.assertRaises(Failure) as e:
                pgserver.Server().start()
        msg = str(e.exception)
        self.assertNotIn("\n", msg)
        for word in ("initdb", "postgresql", "libpq-dev", "scripts/deps.sh"):
            self.assertIn(word, msg)


@unittest.skipIf(SKIP, WHY)
class Command(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-test-")
        Path(self._tmp.name).chmod(0o755)
        self.dir = Path(self._tmp.name) / "pg"

    def tearDown(self):
        if (self.dir / pgserver.STATE).exists():
            run_script("pgserver.py", "stop", self.dir)
        self._tmp.cleanup()

    def test_start_conninfo_stop(self):
        code, out, err = run_script("pgserver.py", "start", self.dir, "--fast")
        self.assertEqual(code, 0, err)
        conninfo = out.strip()
        self.assertIn("dbname=racelab", conninfo)
        code, out, err = run_script("pgserver.py", "conninfo", self.dir)
        self.assertEqual((code, out.strip()), (0, conninfo), err)
        srv = pgserver.Server.attach(self.dir)
        self.assertEqual(srv.psql("SELECT 40 + 2"), "42\n")
        family = pgserver.family(srv.pid)
        code, out, err = run_script("pgserver.py", "start", self.dir)
        self.assertEqual(code, 2)
        self.assertIn("holds a server already", err)
        code, out, err = run_script("pgserver.py", "stop", self.dir)
        self.assertEqual((code, err), (0, ""))
        self.assertFalse(self.dir.exists())
        self.assertFalse(srv.socket_dir.exists())
        for pid in family:
            self.assertFalse(pgserver.living(pid))

    def test_bad_use(self):
        for args, message in ((("stop", self.dir), "holds no server"),
                              (("conninfo", self.dir), "holds no server"),
                              (("start",), "required: DIR"),
                              (("begin", self.dir), "invalid choice"),
                              (("start", self.dir, "--timeout", "0"), "at least 1")):
            code, out, err = run_script("pgserver.py", *args)
            self.assertEqual(code, 2, args)
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertIn(message, err)
        code, out, _ = run_script("pgserver.py", "--help")
        self.assertEqual(code, 0)
        self.assertIn("start DIR", out)


if __name__ == "__main__":
    unittest.main()
