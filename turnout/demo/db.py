"""Reading the shop's tables from the lab's PostgreSQL, with built-in data when it is not there.

The lab's ads and discounts services read their rows from ``$POSTGRES_HOST``; on turnout the
database is optional (the lab only deploys it in some steps), so each service keeps a cached copy
refreshed in the background and serves the built-in rows, with a warning in its log, while the
database is unreachable. Requests never wait for the database, so the versions' latency stays
what the lab intends.

The client is ``pg8000`` (pure Python). Service names are resolved from the Kubernetes service
variables (``DB_SERVICE_HOST``) before DNS, since pods on one machine have no cluster DNS.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from turnout.demo import data
from turnout.types import Obj

DEFAULT_REFRESH = 10.0
CONNECT_TIMEOUT = 2.0


class DbUnavailable(Exception):
    """The database could not be reached or queried; the message says why."""


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings | None:
        """``POSTGRES_HOST/PORT/USER/PASSWORD/DB`` as the lab sets them; None without a host."""
        host = env.get("POSTGRES_HOST", "").strip()
        if not host:
            return None
        user = env.get("POSTGRES_USER") or "postgres"
        return cls(host=host, port=int(env.get("POSTGRES_PORT") or 5432), user=user,
                   password=env.get("POSTGRES_PASSWORD", ""),
                   database=env.get("POSTGRES_DB") or user)


def service_env_name(host: str) -> str:
    """``db.database.svc.cluster.local`` → ``DB`` (the prefix of ``DB_SERVICE_HOST``)."""
    return host.split(".", 1)[0].upper().replace("-", "_")


def resolve(host: str, port: int, env: Mapping[str, str]) -> tuple[str, int]:
    """An address to connect to: a literal IP, the service variables, then DNS."""
    try:
        ipaddress.ip_address(host)
        return host, port
    except ValueError:
        pass
    prefix = service_env_name(host)
    service_ip = env.get(f"{prefix}_SERVICE_HOST")
    if service_ip:
        return service_ip, int(env.get(f"{prefix}_SERVICE_PORT") or port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise DbUnavailable(f"cannot resolve {host!r} ({e}); no {prefix}_SERVICE_HOST either"
                            ) from e
    return str(infos[0][4][0]), port


def password_bytes(password: str) -> bytes | None:
    """The password as the bytes the Secret held: Secret values need not be UTF-8 (the lab's
    ``pw: password`` decodes to binary), and the kubelet passes them surrogate-escaped."""
    return password.encode("utf-8", "surrogateescape") if password else None


def utf8(password: str) -> bool:
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def connect(settings: Settings, env: Mapping[str, str], database: str | None = None,
            timeout: float = CONNECT_TIMEOUT) -> object:
    """A ``pg8000.native.Connection``; DbUnavailable when it cannot be opened."""
    try:
        import pg8000.native  # type: ignore[import-untyped]
    except ImportError as e:
        raise DbUnavailable("the pg8000 client is not installed") from e
    address, port = resolve(settings.host, settings.port, env)
    try:
        return pg8000.native.Connection(
            settings.user, host=address, port=port, password=password_bytes(settings.password),
            database=database or settings.database, timeout=timeout,
            application_name="turnout-demo",
        )
    except Exception as e:
        raise DbUnavailable(f"cannot connect to {settings.host} ({address}:{port}): {e}") from e


def run(conn: object, sql: str, params: Mapping[str, object] | None = None
        ) -> list[list[object]]:
    """One statement on a pg8000 connection; the rows (empty for commands)."""
    runner: Callable[..., list[list[object]] | None] = conn.run  # type: ignore[attr-defined]
    return list(runner(sql, **dict(params or {})) or [])


def close(conn: object) -> None:
    closer: Callable[[], None] = conn.close  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):  # a broken connection must not hide the first error
        closer()


def fetch(settings: Settings, env: Mapping[str, str], sql: str, columns: Sequence[str]
          ) -> list[Obj]:
    """Run a query on a short-lived connection and return dict rows."""
    conn = connect(settings, env)
    try:
        rows = run(conn, sql)
    except Exception as e:
        raise DbUnavailable(f"query failed on {settings.host}: {e}") from e
    finally:
        close(conn)
    return data.rows_to_dicts(columns, rows)


class CachedTable:
    """Rows of one query, refreshed every ``refresh`` seconds; built-in rows until it works."""

    def __init__(self, service: str, settings: Settings | None, sql: str,
                 columns: Sequence[str], fallback: Sequence[Obj],
                 logger: Callable[[str, str], None], env: Mapping[str, str] | None = None,
                 refresh: float = DEFAULT_REFRESH) -> None:
        self.service = service
        self.settings = settings
        self.sql = sql
        self.columns = list(columns)
        self.fallback = [dict(r) for r in fallback]
        self.log = logger
        self.env = dict(os.environ if env is None else env)
        self.refresh = refresh
        self._rows = self.fallback
        self._source = "builtin"
        self._ok: bool | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rows(self) -> tuple[list[Obj], str]:
        """The current rows and where they came from (``postgres`` or ``builtin``)."""
        with self._lock:
            return self._rows, self._source

    def refresh_once(self) -> bool:
        """Query now; True if the rows came from the database."""
        if self.settings is None:
            return False
        try:
            rows = fetch(self.settings, self.env, self.sql, self.columns)
        except DbUnavailable as e:
            with self._lock:
                was_ok, self._ok = self._ok, False
                self._rows, self._source = self.fallback, "builtin"
            if was_ok is not False:
                self.log(self.service, f"WARNING database unavailable, serving built-in data: {e}")
            return False
        with self._lock:
            was_ok, self._ok = self._ok, True
            self._rows, self._source = rows, "postgres"
        if was_ok is not True:
            self.log(self.service, f"reading {len(rows)} rows from PostgreSQL at "
                                   f"{self.settings.host}")
        return True

    def start(self) -> None:
        """Begin background refreshes (a no-op without ``POSTGRES_HOST``)."""
        if self.settings is None:
            self.log(self.service, "POSTGRES_HOST is not set: serving built-in data")
            return
        self._thread = threading.Thread(target=self._loop, name=f"{self.service}-db",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.refresh_once()
            self._stop.wait(self.refresh)


def refresh_interval(env: Mapping[str, str]) -> float:
    value = env.get("TURNOUT_DEMO_DB_REFRESH")
    try:
        return max(0.1, float(value)) if value else DEFAULT_REFRESH
    except ValueError:
        return DEFAULT_REFRESH


def table_for(service: str, sql: str, columns: Sequence[str], fallback: Sequence[Obj],
              logger: Callable[[str, str], None], env: Mapping[str, str] | None = None
              ) -> CachedTable:
    """A CachedTable configured from the environment the lab's manifests set."""
    env = dict(os.environ if env is None else env)
    return CachedTable(service, Settings.from_env(env), sql, columns, fallback, logger, env,
                       refresh_interval(env))
