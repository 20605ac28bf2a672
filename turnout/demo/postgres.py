"""The lab's database pod (image ``postgres:*``) as the host's real PostgreSQL.

Like the official image's entrypoint: initialise ``$PGDATA`` on first start with the superuser
``$POSTGRES_USER`` / ``$POSTGRES_PASSWORD``, create the database ``$POSTGRES_DB`` (default: the
user's name), then run the server in the foreground -- here on the pod's own ``$POD_IP:5432``, with
no Unix socket, and with the shop's tables seeded so the ads and discounts services find data.

Differences a pod cannot hide: the binaries are whatever PostgreSQL the host has (found under
``/usr/lib/postgresql/<version>/bin``, or ``$TURNOUT_PG_BIN``), not the image's version; an
absolute ``$PGDATA`` is placed under the pod's working directory; and since PostgreSQL refuses to
run as root, a root kubelet runs it as the ``postgres`` system user, moving the data directory to
the temp dir when that user cannot reach the working directory.

Run: ``python -m turnout.demo.postgres [postgres -c name=value ...]``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from turnout.demo import data, db, server

SERVICE = "postgres"
DEFAULT_PGDATA = "/var/lib/postgresql/data"
READY_TIMEOUT = 60.0
INSTALL_HINT = ("PostgreSQL is not installed on this machine; install it (Debian/Ubuntu: "
                "apt-get install -y postgresql) or set TURNOUT_PG_BIN to its bin directory")


class PostgresError(Exception):
    """The database cannot be set up; the message says what to do."""


def _version_key(path: Path) -> tuple[int, ...]:
    parts = re.findall(r"\d+", path.parent.name)
    return tuple(int(p) for p in parts)


def find_bin_dir(env: Mapping[str, str], roots: Sequence[Path] = (Path("/usr/lib/postgresql"),)
                 ) -> Path:
    """The directory with ``initdb`` and ``postgres``: ``$TURNOUT_PG_BIN``, the newest
    ``<root>/<version>/bin``, else the one ``initdb`` on PATH lives in."""
    def usable(d: Path) -> bool:
        return (d / "initdb").is_file() and (d / "postgres").is_file()

    override = env.get("TURNOUT_PG_BIN")
    if override:
        if not usable(Path(override)):
            raise PostgresError(f"TURNOUT_PG_BIN={override}: no initdb and postgres there")
        return Path(override)
    found = [d for root in roots if root.is_dir() for d in root.glob("*/bin") if usable(d)]
    if found:
        return max(found, key=_version_key)
    initdb = shutil.which("initdb", path=env.get("PATH"))
    if initdb:
        d = Path(initdb).resolve().parent
        if usable(d):
            return d
    raise PostgresError(INSTALL_HINT)


def data_dir(env: Mapping[str, str], cwd: Path) -> Path:
    """``$PGDATA`` (the image's default if unset); an absolute one is re-rooted under ``cwd``."""
    value = env.get("PGDATA") or DEFAULT_PGDATA
    path = Path(value)
    return cwd / path.relative_to(path.anchor) if path.is_absolute() else cwd / path


def run_as(euid: int | None = None) -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as when we are root (it refuses root); None otherwise."""
    if (os.geteuid() if euid is None else euid) != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresError("running as root and there is no 'postgres' or 'nobody' account to run "
                        "PostgreSQL as")


def reachable(path: Path, uid: int, gid: int) -> bool:
    """Whether ``uid`` can traverse every existing ancestor of ``path``."""
    for parent in path.parents:
        try:
            st = parent.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid == gid:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            return False
    return True


def storage_dir(path: Path, account: pwd.struct_passwd | None) -> Path:
    """Where the data really lives: ``path``, or a stable temp dir if ``account`` can't reach it."""
    if account is None or reachable(path, account.pw_uid, account.pw_gid):
        return path
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"turnout-postgres-{digest}"


def sweep_orphans(tmp: Path) -> list[Path]:
    """Remove temp data dirs whose pod directory is gone (its cluster's state dir deleted):
    each takes tens of MB and nothing else would ever delete it."""
    removed = []
    for marker in tmp.glob("turnout-postgres-*.owner"):
        try:
            owner = Path(marker.read_text().strip())
        except OSError:
            continue
        if owner.is_symlink() or owner.exists():
            continue
        data = marker.with_name(marker.name.removesuffix(".owner"))
        shutil.rmtree(data, ignore_errors=True)
        marker.unlink(missing_ok=True)
        removed.append(data)
        server.log(SERVICE, f"removed {data}: its cluster's state dir is gone")
    return removed


def server_args(args: Sequence[str]) -> list[str]:
    """Extra ``postgres`` options from the container's args (``postgres -c x=y`` → ``-c x=y``)."""
    rest = list(args)
    while rest and Path(rest[0]).name in ("postgres", "docker-entrypoint.sh"):
        rest = rest[1:]
    return rest if rest and rest[0].startswith("-") else []


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Launcher:
    def __init__(self, env: Mapping[str, str], cwd: Path, args: Sequence[str]) -> None:
        self.env = dict(env)
        self.host = server.bind_host(env)
        self.port = int(env.get("PGPORT") or 5432)
        self.user = env.get("POSTGRES_USER") or "postgres"
        self.password = env.get("POSTGRES_PASSWORD") or ""
        self.database = env.get("POSTGRES_DB") or self.user
        self.bin = find_bin_dir(env)
        self.account = run_as()
        self.wanted = data_dir(env, cwd)
        self.dir = storage_dir(self.wanted, self.account)
        self.extra = server_args(args)
        self.proc: subprocess.Popen[bytes] | None = None

    def _run(self, argv: list[str]) -> subprocess.Popen[bytes]:
        kwargs: dict[str, object] = {}
        if self.account is not None:
            kwargs = {"user": self.account.pw_uid, "group": self.account.pw_gid,
                      "extra_groups": []}
        env = {**self.env, "LC_ALL": "C"}
        # cwd: the pod's directory may be closed to the postgres account
        return subprocess.Popen(argv, env=env, cwd=self.dir, **kwargs)  # type: ignore[call-overload, no-any-return]

    def _own(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def auth_method(self) -> str:
        """SCRAM, except for passwords that are not UTF-8 (pg8000's SCRAM needs text): those use
        ``password`` (clear text, only ever over loopback); no password means ``trust``."""
        if not self.password:
            server.log(SERVICE, "WARNING POSTGRES_PASSWORD is not set: connections are trusted")
            return "trust"
        if not db.utf8(self.password):
            server.log(SERVICE, "POSTGRES_PASSWORD is not UTF-8 text: using SQL_ASCII and "
                                "password authentication instead of SCRAM")
            return "password"
        return "scram-sha-256"

    def encoding(self) -> str:
        """UTF8, except SQL_ASCII (bytes verbatim) when the password itself is not UTF-8."""
        return "UTF8" if db.utf8(self.password) else "SQL_ASCII"

    def initialise(self) -> None:
        """initdb on first start (an existing ``PG_VERSION`` means already done)."""
        sweep_orphans(Path(tempfile.gettempdir()))
        if (self.dir / "PG_VERSION").is_file():
            server.log(SERVICE, f"database directory {self.dir} already initialised")
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        self._own(self.dir)
        if self.dir != self.wanted:
            server.log(SERVICE, f"the postgres account cannot reach {self.wanted}; "
                                f"data lives in {self.dir}")
            self.wanted.parent.mkdir(parents=True, exist_ok=True)
            if not self.wanted.exists():
                self.wanted.symlink_to(self.dir)
            # who the data belongs to: swept once that pod's directory (its cluster) is gone
            self.dir.with_name(self.dir.name + ".owner").write_text(str(self.wanted))
        method = self.auth_method()
        fd, pwfile = tempfile.mkstemp(prefix="turnout-pg-pw-")
        try:
            os.write(fd, (db.password_bytes(self.password) or b"unused") + b"\n")
            os.close(fd)
            self._own(Path(pwfile))
            argv = [str(self.bin / "initdb"), "-D", str(self.dir), "-U", self.user,
                    f"--pwfile={pwfile}", f"--auth-host={method}", "--auth-local=trust",
                    "-E", self.encoding(), "--no-locale", "--no-sync"]
            code = self._run(argv).wait()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pwfile)
        if code != 0:
            raise PostgresError(f"initdb failed with exit code {code}")
        with (self.dir / "pg_hba.conf").open("a") as f:
            f.write(f"# turnout: pods on this machine use 127.0.0.0/8 addresses\n"
                    f"host all all 127.0.0.0/8 {method}\n")

    def start(self) -> subprocess.Popen[bytes]:
        argv = [str(self.bin / "postgres"), "-D", str(self.dir), "-p", str(self.port),
                "-c", f"listen_addresses={self.host}", "-c", "unix_socket_directories=",
                *self.extra]
        server.log(SERVICE, f"starting {self.bin / 'postgres'} on {self.host}:{self.port}")
        self.proc = self._run(argv)
        return self.proc

    def settings(self, database: str) -> db.Settings:
        return db.Settings(self.host, self.port, self.user, self.password, database)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> object:
        """A connection to the ``postgres`` database once the server accepts one."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise PostgresError(f"postgres exited with code {self.proc.returncode}")
            try:
                return db.connect(self.settings("postgres"), {}, timeout=1.0)
            except db.DbUnavailable as e:
                last = e
                time.sleep(0.2)
        raise PostgresError(f"postgres did not accept connections within {timeout:.0f}s: {last}")

    def seed(self, admin: object) -> None:
        """Create the database if missing and the shop's tables (idempotent)."""
        try:
            exists = db.run(admin, "SELECT 1 FROM pg_database WHERE datname = :n",
                            {"n": self.database})
            if not exists:
                db.run(admin, f"CREATE DATABASE {quote_ident(self.database)}")
        finally:
            db.close(admin)
        conn = db.connect(self.settings(self.database), {})
        try:
            for sql, params in data.seed_statements():
                db.run(conn, sql, params)
        finally:
            db.close(conn)
        server.log(SERVICE, f"database {self.database!r} ready with tables advertisement, "
                            "discount")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        launcher = Launcher(os.environ, Path.cwd(), args)
        launcher.initialise()
    except (PostgresError, OSError) as e:
        print(f"{SERVICE}: {e}", file=sys.stderr, flush=True)
        return 1
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if launcher.proc is not None and launcher.proc.poll() is None:
            launcher.proc.send_signal(signal.SIGINT)  # "fast" shutdown, as docker stop gets

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    proc = launcher.start()
    try:
        launcher.seed(launcher.wait_ready())
    except (PostgresError, db.DbUnavailable) as e:
        if not stopping:
            print(f"{SERVICE}: {e}", file=sys.stderr, flush=True)
            proc.send_signal(signal.SIGINT)
    code = proc.wait()
    server.log(SERVICE, f"postgres exited with code {code}")
    return 0 if stopping and code in (0, -signal.SIGINT) else code


if __name__ == "__main__":
    sys.exit(main())
