"""The lab's discounts service (image ``ddtraining/discounts-fixed``).

``GET /discount`` returns the discounts as JSON, read from the lab's PostgreSQL when it answers
and from built-in rows otherwise; the storefront shows them under the products.

Run: ``python -m turnout.demo.discounts [the container's command line]``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from turnout.demo import data, db, server

SERVICE = "discounts"
DEFAULT_PORT = 5001
COLUMNS = ("id", "name", "code", "value", "discount_type")


def make_handler(table: db.CachedTable) -> server.Handler:
    def handle(req: server.Request) -> server.Response:
        path = req.path.rstrip("/") or "/"
        if path in ("/", "/healthz"):
            return server.text_response("discounts ok\n")
        if path in ("/discount", "/discounts"):
            rows, origin = table.rows()
            response = server.json_response(rows, note=f"data={origin}")
            response.headers["X-Data-Source"] = origin
            return response
        return server.text_response("not found\n", 404)

    return handle


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    table = db.table_for(SERVICE, data.DISCOUNTS_QUERY, COLUMNS, data.DISCOUNTS, server.log, env)
    server.serve(SERVICE, make_handler(table), server.bind_host(env),
                 server.port_from(args, DEFAULT_PORT), on_start=table.start)


if __name__ == "__main__":
    main()
