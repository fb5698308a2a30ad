"""A throwaway PostgreSQL server for tests and demos.

    from racelab import pgserver
    with pgserver.Server() as pg:
        pg.conninfo          # "host=<socket dir> port=<port> dbname=racelab user=racelab"
        pg.psql("SELECT 1")  # psql's stdout; a Failure with psql's error line

Debian's server binaries (package postgresql) run in a fresh temporary
directory: initdb with trust authentication and user racelab, a database
racelab, a Unix socket only (no TCP), and everything removed on stop. Root
may not run initdb or postgres, so as root both run as nobody (uid 65534)
through setpriv; root still connects, since it passes any file permission.

The socket lives in its own short directory under /tmp: a socket's path must
fit in 107 bytes, and a private directory per server means two servers can
never meet on a socket file, whatever their ports.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from racelab.cli import Failure

# Debian installs each major version's programs here; the highest wins.
PG_LIB = Path("/usr/lib/postgresql")
NEEDED = ("initdb", "postgres", "psql", "pg_isready")
NOBODY = 65534
AS_NOBODY = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
STATE = "pgserver.state"  # in the root: what `scripts/pgserver.py stop DIR` needs
MISSING = ("PostgreSQL's server programs ({}) are not installed: install the Debian "
           "packages postgresql and libpq-dev (scripts/deps.sh does, as root)")


def find_bin_dir():
    """The directory holding every program in NEEDED: the highest version
    under PG_LIB, else PATH (which must then hold all of them)."""
    versions = []
    if PG_LIB.is_dir():
        for d in PG_LIB.iterdir():
            if re.fullmatch(r"\d+(\.\d+)?", d.name):
                versions.append((tuple(map(int, d.name.split("."))), d / "bin"))
    for _, d in sorted(versions, reverse=True):
        if all(os.access(d / p, os.X_OK) for p in NEEDED):
            return d
    found = {p: shutil.which(p) for p in NEEDED}
    if all(found.values()):
        # A Debian PATH holds pg_wrapper's psql, not the server's: follow
        # initdb's link to where the server's own programs are.
        d = Path(os.path.realpath(found["initdb"])).parent
        if all(os.access(d / p, os.X_OK) for p in NEEDED):
            return d
        return Path(found["initdb"]).parent
    missing = [p for p in NEEDED if not found[p]]
    raise Failure(MISSING.format(", ".join(missing)))


def clean_env():
    """The environment without PG* variables: a PGHOST or PGOPTIONS of the
    caller's must not redirect or reconfigure our server's clients."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def free_port():
    # Only the socket's file name carries the port (no TCP listener), but a
    # port the kernel calls free keeps that true if TCP is ever turned on.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_to(path, uid):
    """The first of path's parents that uid cannot enter, or None."""
    for d in Path(path).resolve().parents:
        st = d.stat()
        if not (st.st_mode & 0o001 or (st.st_uid == uid and st.st_mode & 0o100)):
            return d
    return None


def living(pid):
    """pid runs (a zombie does not: it holds no socket and no memory; pid 1
    may never reap a server started by scripts/pgserver.py)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # gone (ENOENT, or ESRCH while it exits)
        return False


def family(pid):
    """pid and its living children: the postmaster and its backends. Each
    backend leads a process group of its own (postgres calls setsid), so
    a signal to the postmaster's group would not reach them."""
    pids = [pid] if living(pid) else []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[1]) == pid:
                pids.append(int(entry))
    return pids


def is_postgres(pid):
    try:
        return b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def tail(path, n=5):
    try:
        lines = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no server log)"
    return " | ".join(line.strip() for line in lines[-n:]) or "(empty server log)"


def psql_error(stderr):
    """psql's error as one line: 'ERROR:  ...' without the 'psql:<stdin>:1: '."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        m = re.search(r"(ERROR|FATAL|PANIC):.*", line)
        if m:
            return m.group(0)
    return lines[0] if lines else "psql failed without a message"


# Servers this process started and has not stopped: stopped at its exit.
_running = set()


@atexit.register
def _stop_all():
    for srv in list(_running):
        srv.stop()


class Server:
    """A PostgreSQL server in a temporary directory; a context manager.

    base_dir: where the temporary directory is made (default: the short
    socket directory under /tmp holds everything). fast: fsync and
    synchronous_commit off, for tests that need no durability; by default
    both stay on, since the ledger's durability is tested with them.
    """

    def __init__(self, base_dir=None, timeout_s=30, fast=False, _root=None):
        self.timeout_s = timeout_s
        self.fast = fast
        self._base_dir = base_dir
        self._fixed_root = Path(_root).resolve() if _root else None
        self.root = self.data_dir = self.socket_dir = self.log_path = None
        self.port = None
        self.pid = None
        self.proc = None
        self.conninfo = None
        self.bin = None
        self.prefix = AS_NOBODY if os.geteuid() == 0 else ()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- start ---------------------------------------------------------------

    def start(self):
        """Makes the directories, runs initdb, starts the server and waits
        until it accepts connections; on any failure nothing is left."""
        self.bin = find_bin_dir()
        if self.prefix and shutil.which("setpriv") is None:
            raise Failure("as root, the server runs as nobody through setpriv: install the "
                          "Debian package util-linux")
        try:
            self._make_dirs()
            self._initdb()
            _running.add(self)
            self._launch()
            self._wait_ready()
            self.psql("CREATE DATABASE racelab", dbname="postgres")
        except BaseException:
            self.stop()
            raise
        return self

    def _make_dirs(self):
        self.socket_dir = Path(tempfile.mkdtemp(prefix="rlpg-", dir="/tmp"))
        if self._fixed_root:
            self.root = self._fixed_root
            self.root.mkdir(parents=True, exist_ok=True)
        elif self._base_dir:
            self.root = Path(tempfile.mkdtemp(prefix="racelab-pg-", dir=self._base_dir)).resolve()
        else:
            self.root = self.socket_dir
        self.data_dir = self.root / "data"
        self.log_path = self.root / "server.log"
        self.port = free_port()
        self.conninfo = self.conninfo_for("racelab")
        closed = self.prefix and closed_to(self.root, NOBODY)
        if closed:
            raise Failure(f"the server runs as nobody (uid {NOBODY}), who cannot enter "
                          f"{closed}: choose a directory under /tmp")
        for d in {self.root, self.socket_dir}:
            # Only the server's user (and root) may reach the socket: trust
            # authentication lets in whoever can.
            if self.prefix:
                os.chown(d, NOBODY, NOBODY)
            d.chmod(0o700)
        self._write_state()

    def conninfo_for(self, dbname):
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user=racelab"

    def _run(self, argv, timeout):
        """Runs one of the server's programs as the server's user, its
        output appended to the server log; a Failure names what went wrong."""
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen([*self.prefix, *map(str, argv)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                                    env=clean_env(), start_new_session=True)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise Failure(f"{Path(argv[0]).name} took over {timeout:g} s: "
                          f"{tail(self.log_path)}") from None
        if code != 0:
            raise Failure(f"{Path(argv[0]).name} failed (exit {code}): {tail(self.log_path)}")

    def _initdb(self):
        self._run([self.bin / "initdb", "--auth=trust", "-U", "racelab", "--no-sync",
                   "-E", "UTF8", "--locale=C", "-D", self.data_dir],
                  self.timeout_s)
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# racelab's throwaway test server (scripts/racelab/pgserver.py)\n")
            conf.writelines(f"{k} = {v}\n" for k, v in self.settings().items())

    def settings(self):
        """postgresql.conf's lines for a test server."""
        return {
            "listen_addresses": "''",  # the socket alone: nothing on the network
            "unix_socket_directories": f"'{self.socket_dir}'",
            "port": self.port,
            # Two replicas' pools and a load test's connections at once.
            "max_connections": 200,
            "fsync": "off" if self.fast else "on",
            "synchronous_commit": "off" if self.fast else "on",
            "logging_collector": "off",  # stderr is the server log
        }

    def _launch(self):
        # postgres itself, not pg_ctl start: its pid is then known at once,
        # and in a session of its own it is out of reach of the caller's ^C.
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([*self.prefix, str(self.bin / "postgres"),
                                          "-D", str(self.data_dir)],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.root,
                                         env=clean_env(), start_new_session=True)
        self.pid = self.proc.pid
        self._write_state()
        if self._fixed_root:
            _running.discard(self)  # scripts/pgserver.py start: it outlives us

    def _wait_ready(self):
        deadline = time.monotonic() + self.timeout_s
        probe = [str(self.bin / "pg_isready"), "-q", "-d", self.conninfo_for("postgres")]
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"postgres exited (status {self.proc.returncode}) before it "
                              f"accepted connections: {tail(self.log_path)}")
            if subprocess.run(probe, stdin=subprocess.DEVNULL, capture_output=True,
                              env=clean_env()).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise Failure(f"postgres did not accept connections within "
                              f"{self.timeout_s:g} s: {tail(self.log_path)}")
            time.sleep(0.02)

    # --- use -------------------------------------------------------------------

    def psql(self, sql, dbname="racelab", timeout=60):
        """Runs sql (one or more statements) through psql; returns its
        stdout, rows as 'a|b' lines; raises Failure with psql's error."""
        self.bin = self.bin or find_bin_dir()
        try:
            r = subprocess.run([str(self.bin / "psql"), "-X", "-A", "-t", "-q",
                                "-v", "ON_ERROR_STOP=1", "-d", self.conninfo_for(dbname)],
                               input=sql, capture_output=True, text=True, env=clean_env(),
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"psql took over {timeout:g} s (killed)") from None
        if r.returncode != 0:
            raise Failure(f"psql: {psql_error(r.stderr)}")
        return r.stdout

    # --- stop ------------------------------------------------------------------

    def stop(self):
        """Stops the server (fast shutdown: SIGINT, what `pg_ctl stop -m
        fast` sends; SIGKILL to it and its backends after timeout_s) and
        removes its directories. Safe to call twice or after a failed start."""
        _running.discard(self)
        if self.pid and self._postmaster_alive():
            # Its backends now: once the postmaster is gone they are init's.
            before = family(self.pid)
            try:
                os.kill(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + self.timeout_s
            while living(self.pid) and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.01)
            self._kill_all(before)
        self._reap()
        self.pid = None
        for d in (self.root, self.socket_dir):
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
        self.root = self.socket_dir = None

    def _postmaster_alive(self):
        if self.proc is not None:
            return self.proc.poll() is None  # ours: unreaped, its pid is still its own
        return living(self.pid) and is_postgres(self.pid)  # attached: the pid may be reused

    def _reap(self):
        if self.proc is not None:
            self.proc.poll()

    def _kill_all(self, before):
        """SIGKILL for whatever of the server still runs (after timeout_s)."""
        left = [p for p in set(before + family(self.pid)) if living(p) and is_postgres(p)]
        if not left:
            return
        shm = self._shmem_key()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(living(p) for p in left) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.01)
        if shm and shm != "0" and shutil.which("ipcrm"):
            # A killed postmaster leaves its small System V segment behind.
            subprocess.run(["ipcrm", "-M", shm], capture_output=True)

    def _shmem_key(self):
        # postmaster.pid, line 7: the System V shared memory key and id.
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return lines[6].split()[0]
        except (OSError, IndexError):
            return None

    # --- the state file, for scripts/pgserver.py ----------------------------

    def _write_state(self):
        state = {"pid": self.pid or 0, "port": self.port, "socket_dir": self.socket_dir,
                 "timeout_s": self.timeout_s}
        (self.root / STATE).write_text("".join(f"{k}={v}\n" for k, v in state.items()))

    @classmethod
    def attach(cls, root):
        """The server started in root by another process (scripts/pgserver.py
        start), to read its conninfo or stop it."""
        root = Path(root).resolve()
        try:
            text = (root / STATE).read_text()
        except OSError:
            raise Failure(f"{root} holds no server started by pgserver.py "
                          f"(no {STATE})") from None
        state = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        try:
            srv = cls(timeout_s=float(state["timeout_s"]), _root=root)
            srv.pid = int(state["pid"]) or None
            srv.port = int(state["port"])
            srv.socket_dir = Path(state["socket_dir"])
        except (KeyError, ValueError):
            raise Failure(f"{root / STATE} is damaged") from None
        srv.root = root
        srv.data_dir = root / "data"
        srv.log_path = root / "server.log"
        srv.conninfo = srv.conninfo_for("racelab")
        return srv
