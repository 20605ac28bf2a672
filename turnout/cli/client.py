"""How CLI commands reach the running cluster: its state dir, port and token, over HTTPS."""

from __future__ import annotations

import argparse
import json
import urllib.error
from typing import Any

from turnout.cluster.state import StateDir


class NotRunning(SystemExit):
    pass


def state_of(args: argparse.Namespace) -> StateDir:
    return StateDir.resolve(getattr(args, "state_dir_cmd", None) or args.state_dir)


def port_of(state: StateDir) -> int:
    port = state.read_server().get("pid") and state.read_server().get("port")
    if not isinstance(port, int):
        raise NotRunning(f"turnout is not running for {state.root}: start it with `turnout up`")
    return port


def get(state: StateDir, path: str) -> Any:
    """GET a JSON document from the API; a Status error becomes a one-line SystemExit."""
    try:
        return json.loads(state.request(port_of(state), path))
    except urllib.error.HTTPError as e:
        try:
            msg = json.loads(e.read()).get("message", str(e))
        except ValueError:
            msg = str(e)
        raise SystemExit(f"error from the cluster: {msg}") from e
    except OSError as e:
        raise NotRunning(f"turnout is not reachable ({e}): is it up? `turnout status`") from e
