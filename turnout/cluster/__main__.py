"""`python -m turnout.cluster --state-dir DIR`: the process `turnout up --detach` starts.

It imports the server and nothing of the CLI, so the API answers sooner; the CLI has already
settled and saved the cluster's ports (`cluster.json`) before starting it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from turnout.cluster import preflight, settings
from turnout.cluster.state import StateDir

log = logging.getLogger("turnout")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m turnout.cluster",
                                description="run a turnout cluster in the foreground")
    p.add_argument("--state-dir", required=True, help="the cluster's state directory")
    args = p.parse_args(argv)
    state = StateDir.resolve(args.state_dir)
    try:
        cfg = settings.load(state.root)
    except ValueError as e:
        print(f"turnout: {e}", file=sys.stderr)
        return 2
    if cfg is None:
        print(f"turnout: {state.root} has no {settings.FILE}; start it with `turnout up`",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from turnout.cluster.server import serve

    try:
        asyncio.run(serve(state, cfg, on_ready=lambda s: log.info("turnout is up in %.2f s", s)))
    except preflight.PortsTaken as e:
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
