"""The cluster's state directory: database, kubeconfig, token, pid/port, logs.

Everything a cluster is lives in one folder (default `~/.turnout/default`, or `TURNOUT_STATE_DIR`,
or `--state-dir`), so several clusters can coexist and `rm -r` forgets one completely.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_PORT = 6443


def default_dir() -> Path:
    env = os.environ.get("TURNOUT_STATE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".turnout" / "default"


@dataclass(frozen=True)
class StateDir:
    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | None = None) -> StateDir:
        return cls(Path(path).expanduser().resolve() if path else default_dir())

    @property
    def db(self) -> Path:
        return self.root / "objects.db"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def server_file(self) -> Path:
        return self.root / "server.json"

    @property
    def log_file(self) -> Path:
        return self.root / "turnout.log"

    @property
    def pods_dir(self) -> Path:
        return self.root / "pods"

    def cli(self) -> str:
        """The `turnout` command line that addresses this cluster (for hints people copy)."""
        return "turnout" if self.root == default_dir() else f"turnout --state-dir {self.root}"

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def token(self) -> str:
        path = self.root / "token"
        if path.exists():
            return path.read_text().strip()
        self.ensure()
        tok = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(tok)
        return tok

    def port(self) -> int:
        """The API port this cluster uses: kept from an earlier run, else the first free one."""
        info = self.read_server()
        saved = info.get("port")
        if isinstance(saved, int):
            return saved
        port = DEFAULT_PORT
        while not port_free(port):
            port += 1
        return port

    def read_server(self) -> dict[str, object]:
        try:
            data = json.loads(self.server_file.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def write_server(self, **info: object) -> None:
        self.ensure()
        tmp = self.server_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(self.server_file)

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts exactly this cluster's CA."""
        from turnout.cluster import tls  # cryptography loads only when a CLI call needs it

        return ssl.create_default_context(cafile=str(tls.ensure(self.root)[0]))

    def request(self, port: int, path: str, *, token: bool = True, timeout: float = 5,
                method: str = "GET", body: bytes | None = None,
                content_type: str = "application/json") -> bytes:
        headers = {"Content-Type": content_type}
        if token:
            headers["Authorization"] = f"Bearer {self.token()}"
        req = urllib.request.Request(self.url(port) + path, data=body, method=method,
                                     headers=headers)
        with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context()) as r:
            data: bytes = r.read()
            return data

    def url(self, port: int) -> str:
        return f"https://127.0.0.1:{port}"

    def write_kubeconfig(self, port: int) -> Path:
        self.ensure()
        from turnout.cluster import tls

        ca = base64.b64encode(tls.ensure(self.root)[0].read_bytes()).decode()
        cfg = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "turnout",
                          "cluster": {"server": self.url(port),
                                      "certificate-authority-data": ca}}],
            "users": [{"name": "turnout", "user": {"token": self.token()}}],
            "contexts": [{"name": "turnout",
                          "context": {"cluster": "turnout", "user": "turnout",
                                      "namespace": "default"}}],
            "current-context": "turnout",
        }
        tmp = self.kubeconfig.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
        tmp.replace(self.kubeconfig)
        return self.kubeconfig


def port_free(port: int, address: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True
