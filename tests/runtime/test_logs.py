from __future__ import annotations

import asyncio
from pathlib import Path

from turnout.runtime import logs

T0 = 1_700_000_000


def write(path: Path, records: list[tuple[int, str, bytes]]) -> None:
    with path.open("ab") as f:
        for secs, stream, data in records:
            f.write(logs.format_record(stream, data, logs.rfc3339nano(secs * 1_000_000_000)))


def test_timestamps_format_and_parse() -> None:
    assert logs.rfc3339nano(T0 * 1_000_000_000 + 120_000_000) == "2023-11-14T22:13:20.12Z"
    assert logs.rfc3339nano(T0 * 1_000_000_000) == "2023-11-14T22:13:20Z"
    assert logs.parse_timestamp("2023-11-14T22:13:20.12Z") == T0 + 0.12


def test_read_log_options(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    write(path, [(T0, "stdout", b"one\n"), (T0 + 10, "stderr", b"two\n"),
                 (T0 + 20, "stdout", b"thr"), (T0 + 21, "stdout", b"ee\n")])
    assert logs.read_log(path) == b"one\ntwo\nthree\n"
    assert logs.read_log(path, tail=2) == b"two\nthree\n"
    assert logs.read_log(path, tail=0) == b""
    assert logs.read_log(path, since_seconds=15, now=T0 + 30) == b"three\n"
    assert logs.read_log(path, limit_bytes=5) == b"one\nt"
    stamped = logs.read_log(path, timestamps=True, tail=1)
    assert stamped == b"2023-11-14T22:13:40Z three\n"
    assert logs.read_log(tmp_path / "missing.log") == b""


def test_partial_line_at_end(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    write(path, [(T0, "stdout", b"a\n"), (T0, "stdout", b"no newline")])
    assert logs.read_log(path) == b"a\nno newline"


async def test_follow_yields_appended_lines_until_done(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    write(path, [(T0, "stdout", b"old\n")])
    finished = False
    got: list[bytes] = []

    async def consume() -> None:
        async for chunk in logs.follow_log(path, done=lambda: finished, poll=0.01):
            got.append(chunk)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    write(path, [(T0 + 1, "stdout", b"new\n")])
    await asyncio.sleep(0.05)
    finished = True
    await asyncio.wait_for(task, 1)
    assert b"".join(got) == b"old\nnew\n"


async def test_follow_ends_when_log_rotates(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    write(path, [(T0, "stdout", b"x\n")])

    async def consume() -> list[bytes]:
        return [c async for c in logs.follow_log(path, poll=0.01)]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.03)
    logs.rotate(path, tmp_path / "c.previous.log")
    write(path, [(T0, "stdout", b"fresh\n")])
    assert await asyncio.wait_for(task, 1) == [b"x\n"]
