"""Follow the access log: hand back every complete line exactly once, across restarts.

Envoy appends to one file; a line may be half-written when we read, the file may be truncated or
replaced (rotation), and turnout itself may restart. The tailer keeps the byte offset of the last
complete line and the file's identity (device, inode) in a small checkpoint file that the caller
saves after the lines are stored, so a restart resumes where storage stopped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Position:
    dev: int = 0
    ino: int = 0
    offset: int = 0


class Tailer:
    def __init__(self, path: Path, checkpoint: Path | None = None,
                 chunk_bytes: int = 4 << 20) -> None:
        self.path = Path(path)
        self.checkpoint = checkpoint
        self.chunk = chunk_bytes
        self.pos = self._load()
        self._pending = Position(self.pos.dev, self.pos.ino, self.pos.offset)

    def _load(self) -> Position:
        if self.checkpoint is None:
            return Position()
        try:
            d = json.loads(self.checkpoint.read_text())
            return Position(int(d["dev"]), int(d["ino"]), int(d["offset"]))
        except (OSError, ValueError, KeyError, TypeError):
            return Position()

    def read(self) -> list[bytes]:
        """Complete lines written since the last call (at most about `chunk_bytes` of them);
        `commit()` makes them count as consumed for a restart."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        pos = self._pending
        if (st.st_dev, st.st_ino) != (pos.dev, pos.ino) or st.st_size < pos.offset:
            pos = Position(st.st_dev, st.st_ino, 0)  # new or truncated file: from the start
        if st.st_size == pos.offset:
            self._pending = pos
            return []
        with open(self.path, "rb") as f:
            f.seek(pos.offset)
            data = f.read(self.chunk)
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) >= self.chunk:  # one absurdly long line: skip it
                self._pending = Position(pos.dev, pos.ino, pos.offset + len(data))
            else:
                self._pending = pos
            return []
        self._pending = Position(pos.dev, pos.ino, pos.offset + end + 1)
        return data[:end].split(b"\n")

    def commit(self) -> None:
        self.pos = Position(self._pending.dev, self._pending.ino, self._pending.offset)
        if self.checkpoint is not None:
            tmp = self.checkpoint.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.pos.__dict__))
            tmp.replace(self.checkpoint)

    def behind(self) -> bool:
        """Whether the file holds bytes not yet read."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        p = self._pending
        return (st.st_dev, st.st_ino) != (p.dev, p.ino) or st.st_size != p.offset
