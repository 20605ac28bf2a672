"""`turnout` entry point: parses arguments and dispatches to one module per command group."""

from __future__ import annotations

import argparse
import sys

from turnout import __version__
from turnout.cli import (
    cluster_cmds,
    demo_cmds,
    mesh_cmds,
    rollout_cmds,
    status_cmds,
    telemetry_cmds,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="turnout",
        description="Progressive delivery on one machine: Kubernetes API, Istio-compatible "
                    "mesh on Envoy, per-version telemetry, automated canaries.")
    p.add_argument("--version", action="version", version=f"turnout {__version__}")
    p.add_argument("--state-dir", help="cluster state directory (default: $TURNOUT_STATE_DIR "
                   "or ~/.turnout/default)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    cluster_cmds.register(sub)
    status_cmds.register(sub)
    mesh_cmds.register(sub)
    demo_cmds.register(sub)
    telemetry_cmds.register(sub)
    rollout_cmds.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if rest and args.command != "kubectl":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
