"""exec, attach and port-forward: Kubernetes' streaming subresources over WebSockets and SPDY.

Pure protocol code (``websocket``, ``spdy``, ``channels``) is apart from the I/O (``upgrade``
takes connections from uvicorn, ``transports`` carries channels, ``sessions`` runs them,
``handler`` checks and upgrades requests). :func:`protocols` is what the server wires in.
"""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol

from turnout.api.stream import handler, upgrade
from turnout.api.stream.handler import PodHost, StreamContext
from turnout.store.objects import Objects

__all__ = ["PodHost", "StreamContext", "protocols"]


def protocols(objects: Objects, token: str, host: PodHost
              ) -> tuple[type[H11Protocol], type[upgrade.UpgradeProtocol]]:
    """``(http, ws)`` for ``uvicorn.Config``: streaming upgrades go to :mod:`handler`."""
    ctx = StreamContext(objects, token, host)

    async def serve(conn: upgrade.Conn) -> None:
        await handler.handle(ctx, conn)

    return upgrade.protocols(serve)
