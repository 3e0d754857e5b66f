"""A real PostgreSQL server for tests: ``initdb`` and ``pg_ctl`` from the server binaries in a
temporary directory, listening on loopback only, stopped and removed afterwards.

The binaries are found through ``HESO_PG_BINDIR``, ``pg_config --bindir`` or Debian's
``/usr/lib/postgresql/<version>/bin``. Without them :func:`postgres_server` skips the test,
except under ``CI`` or ``PG_TESTS_REQUIRED`` where a missing server is a failure (CI installs
the ``postgresql`` package). Run as root (as in CI containers), the server runs as the
``postgres`` user (initdb refuses root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SUPERUSER = "heso_admin"
DEBIAN_ROOT = Path("/usr/lib/postgresql")


def find_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are, if anywhere."""
    candidates: list[Path] = []
    if os.environ.get("HESO_PG_BINDIR"):
        candidates.append(Path(os.environ["HESO_PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    if DEBIAN_ROOT.is_dir():
        versions = sorted(
            (p for p in DEBIAN_ROOT.iterdir() if p.name.isdigit()), key=lambda p: -int(p.name)
        )
        candidates.extend(p / "bin" for p in versions)
    for c in candidates:
        if (c / "initdb").is_file() and (c / "pg_ctl").is_file():
            return c
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: :attr:`url` connects as its superuser (with a password, over TCP on
    127.0.0.1); :meth:`new_database` gives each test a database of its own."""

    bindir: Path
    root: Path
    port: int
    password: str = field(repr=False)
    _run_as: Callable[[], None] | None = field(default=None, repr=False)
    _count: int = 0

    def url_for(self, database: str, user: str = SUPERUSER, password: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"postgresql://{user}:{pw}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        """The superuser's URL for the ``postgres`` database."""
        return self.url_for("postgres")

    def new_database(self) -> str:
        """Create an empty database; returns its URL (the superuser's)."""
        import psycopg

        self._count += 1
        name = f"heso_test_{os.getpid()}_{self._count}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
            preexec_fn=self._run_as,
        )

    def start(self) -> None:
        """Start (or restart after :meth:`stop`) the server and wait until it accepts."""
        self._ctl("-l", str(self.root / "server.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``, ``immediate``)."""
        self._ctl("-m", mode, "-w", "stop", check=False)

    def log(self) -> str:
        try:
            return (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return ""


def _demote() -> tuple[Callable[[], None] | None, int, int]:
    """Who runs the server: this user, or ``postgres`` when this is root."""
    if os.geteuid() != 0:
        return None, -1, -1
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        user = pwd.getpwnam("nobody")
    uid, gid = user.pw_uid, user.pw_gid

    def run_as() -> None:
        os.setgid(gid)
        os.setuid(uid)

    return run_as, uid, gid


@contextlib.contextmanager
def running_postgres(bindir: Path) -> Iterator[PostgresServer]:
    """Start a throwaway server from ``bindir``; stop and remove it on exit."""
    run_as, uid, gid = _demote()
    root = Path(tempfile.mkdtemp(prefix="heso-pg-"))
    try:
        os.chmod(root, 0o700)
        password = secrets.token_hex(16)
        (root / "pw").write_text(password + "\n")
        if run_as is not None:
            os.chown(root, uid, gid)
            os.chown(root / "pw", uid, gid)
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(root / "data"),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(root / "pw"),
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=180,
            preexec_fn=run_as,
        )
        (root / "pw").unlink()
        port = _free_port()
        with open(root / "data" / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
                f"unix_socket_directories = '{root}'\n"
                "max_connections = 200\nfsync = on\nsynchronous_commit = on\n"
                "shared_buffers = 128MB\n"
            )
        server = PostgresServer(bindir, root, port, password, run_as)
        server.start()
        try:
            yield server
        finally:
            server.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def require_bindir() -> Path:
    """The server binaries; skip without them, except under ``CI`` or
    ``PG_TESTS_REQUIRED`` (a failure there)."""
    bindir = find_bindir()
    if bindir is None:
        message = (
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's "
            "postgresql package or set HESO_PG_BINDIR"
        )
        if os.environ.get("CI") or os.environ.get("PG_TESTS_REQUIRED"):
            pytest.fail(message)
        pytest.skip(message)
    return bindir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the test session (see the module docstring)."""
    with running_postgres(require_bindir()) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server: its superuser URL."""
    return postgres_server.new_database()


@pytest.fixture
def postgres_store_url(postgres_url: str) -> str:
    """A fresh database with heso's schema (and its roles) applied: a ready PostgreSQL store
    (``HESO_STORE``). Needs ``heso-core[postgres]``."""
    from heso.database import Database, migrate

    db = Database(postgres_url)
    try:
        migrate(db)
    finally:
        db.close()
    return postgres_url
