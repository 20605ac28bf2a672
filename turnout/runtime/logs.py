"""Container log files: one timestamped line per write, so ``kubectl logs`` options can be served.

Each line is ``<RFC3339Nano> <stream> <F|P> <text>`` (the CRI log format): ``F`` ends a line, ``P``
is a fragment continued by the next record. :func:`read_log` is a pure reader; :func:`follow_log`
tails a file for ``kubectl logs -f``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO


def rfc3339nano(ns: int | None = None) -> str:
    """Go's RFC3339Nano in UTC: fractional seconds without trailing zeros."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def parse_timestamp(ts: str) -> float:
    """Seconds since the epoch of an RFC3339(Nano) UTC timestamp."""
    main, _, frac = ts.rstrip("Z").partition(".")
    base = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def format_record(stream: str, data: bytes, ts: str | None = None) -> bytes:
    """One log record for ``data`` (a line with or without its trailing newline)."""
    complete = data.endswith(b"\n")
    body = data[:-1] if complete else data
    head = f"{ts or rfc3339nano()} {stream} {'F' if complete else 'P'} ".encode()
    return head + body.replace(b"\n", b" ") + b"\n"


def write_record(f: BinaryIO, stream: str, data: bytes) -> None:
    f.write(format_record(stream, data))
    f.flush()


def _parse(line: bytes) -> tuple[str, bool, bytes] | None:
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3:
        return None
    text = parts[3] if len(parts) == 4 else b""
    return parts[0].decode(errors="replace"), parts[2] == b"F", text


def render(data: bytes, *, timestamps: bool, since: float | None = None) -> list[bytes]:
    """Whole log lines (each ending in newline) from raw file content, filtered by ``since``."""
    lines: list[bytes] = []
    pending: bytes | None = None
    pending_ts = ""
    for raw in data.splitlines():
        parsed = _parse(raw)
        if parsed is None:
            continue
        ts, full, text = parsed
        if pending is None:
            pending, pending_ts = b"", ts
        pending += text
        if not full:
            continue
        if since is None or parse_timestamp(pending_ts) >= since:
            prefix = (pending_ts + " ").encode() if timestamps else b""
            lines.append(prefix + pending + b"\n")
        pending = None
    if pending is not None and (since is None or parse_timestamp(pending_ts) >= since):
        lines.append(((pending_ts + " ").encode() if timestamps else b"") + pending)
    return lines


def read_log(
    path: Path,
    *,
    timestamps: bool = False,
    tail: int | None = None,
    since_seconds: float | None = None,
    limit_bytes: int | None = None,
    now: float | None = None,
) -> bytes:
    """The log as ``kubectl logs`` prints it; a missing file reads as empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return b""
    out = read_log_bytes(data, timestamps=timestamps, tail=tail, since_seconds=since_seconds,
                         now=now)
    return out[:limit_bytes] if limit_bytes is not None and limit_bytes >= 0 else out


async def follow_log(
    path: Path,
    *,
    timestamps: bool = False,
    tail: int | None = None,
    since_seconds: float | None = None,
    done: Callable[[], bool] | None = None,
    poll: float = 0.2,
) -> AsyncIterator[bytes]:
    """Yield the existing log, then new lines as they are appended.

    Ends when ``done()`` is true and nothing new has arrived, or when the file is replaced (the
    container restarted, so this log became the previous one).
    """
    try:
        inode: int | None = path.stat().st_ino
    except FileNotFoundError:
        inode = None
    try:
        data = path.read_bytes() if inode is not None else b""
    except FileNotFoundError:
        data = b""
    first = read_log_bytes(data, timestamps=timestamps, tail=tail, since_seconds=since_seconds)
    if first:
        yield first
    offset = len(data)
    carry = b""
    while True:
        try:
            st: os.stat_result | None = path.stat()
        except FileNotFoundError:
            st = None
        if st is not None and inode is None:
            inode, offset = st.st_ino, 0
        if st is not None and st.st_ino == inode and st.st_size > offset:
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read()
            offset += len(chunk)
            chunk = carry + chunk
            cut = chunk.rfind(b"\n") + 1
            carry = chunk[cut:]
            if cut:
                out = b"".join(render(chunk[:cut], timestamps=timestamps))
                if out:
                    yield out
            continue
        if (st is not None and inode is not None and st.st_ino != inode) or (
            done is not None and done()
        ):
            return
        await asyncio.sleep(poll)


def read_log_bytes(data: bytes, *, timestamps: bool, tail: int | None,
                   since_seconds: float | None, now: float | None = None) -> bytes:
    """:func:`read_log` over bytes already read."""
    since = None
    if since_seconds is not None:
        since = (time.time() if now is None else now) - since_seconds
    lines = render(data, timestamps=timestamps, since=since)
    if tail is not None and tail >= 0:
        lines = lines[len(lines) - tail:] if tail else []
    return b"".join(lines)


def rotate(current: Path, previous: Path) -> None:
    """Keep the last container's log as the previous one (``kubectl logs --previous``)."""
    if current.exists():
        os.replace(current, previous)
