"""Stand-ins for the lab's NGINX ingress controller images, whose work turnout does in Envoy.

turnout honours ``Ingress`` objects (and the ``nginx.ingress.kubernetes.io/canary*`` annotations)
in its own Envoy, so the controller pod the lab's ``nginx.yaml`` deploys only has to look healthy:
``controller`` stays up and answers the manifest's probes (``/healthz`` on ``--healthz-port``,
10254 by default); ``certgen`` (the admission webhook's ``create`` and ``patch`` jobs) exits 0.

Run: ``python -m turnout.demo.ingress controller|certgen [the container's args]``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from turnout.demo import server

SERVICE = "ingress-nginx"
HEALTHZ_PORT = 10254


def controller_handler(req: server.Request) -> server.Response:
    path = req.path.rstrip("/") or "/"
    if path in ("/healthz", "/is-dynamic-lb-initialized"):
        return server.text_response("ok")
    if path == "/metrics":
        return server.text_response("# turnout: the ingress is served by turnout's Envoy\n",
                                    content_type="text/plain; version=0.0.4")
    return server.text_response("not found\n", 404)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    role, rest = (args[0], args[1:]) if args else ("controller", [])
    if role == "certgen":
        action = next((a for a in rest if not a.startswith("-")), "create")
        server.log(SERVICE, f"kube-webhook-certgen {action}: nothing to do, turnout's API server "
                            "validates Ingress objects itself")
        return 0
    if role != "controller":
        print(f"usage: python -m turnout.demo.ingress controller|certgen [args]; got {role!r}",
              file=sys.stderr)
        return 2
    port = int(server.option(rest, "healthz-port") or HEALTHZ_PORT)
    server.log(SERVICE, "controller stand-in: Ingress objects are served by turnout's Envoy "
                        "(NodePort 32000); answering health checks only")
    server.serve(SERVICE, controller_handler, server.bind_host(os.environ), port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
