"""`turnout` entry point: parses arguments and dispatches to one module per command group.

Only the module of the command being run is imported (`turnout up` does not load the rollout,
mesh or telemetry code), so the CLI starts fast; `turnout --help` loads them all.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from turnout import __version__

# command -> the module under turnout.cli that registers it (tests check this table is complete)
COMMANDS = {
    "up": "cluster_cmds", "down": "cluster_cmds", "kubeconfig": "cluster_cmds",
    "dashboard": "cluster_cmds", "kubectl": "cluster_cmds",
    "status": "status_cmds", "clusters": "status_cmds",
    "analyze": "mesh_cmds", "explain": "mesh_cmds",
    "demo": "demo_cmds", "load": "demo_cmds",
    "services": "telemetry_cmds", "versions": "telemetry_cmds", "compare": "telemetry_cmds",
    "rollout": "rollout_cmds",
}
MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command` alone, or for every command when it is None or unknown."""
    p = argparse.ArgumentParser(
        prog="turnout",
        description="Progressive delivery on one machine: Kubernetes API, Istio-compatible "
                    "mesh on Envoy, per-version telemetry, automated canaries.")
    p.add_argument("--version", action="version", version=f"turnout {__version__}")
    p.add_argument("--state-dir", help="cluster state directory (default: $TURNOUT_STATE_DIR "
                   "or ~/.turnout/default)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else MODULES
    for name in modules:
        importlib.import_module(f"turnout.cli.{name}").register(sub)
    return p


def _command(argv: list[str]) -> str | None:
    """The command word: the first argument that is not a global option (or its value)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--state-dir":
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return arg
    return None


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command(args_in))
    args, rest = parser.parse_known_args(args_in)
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
