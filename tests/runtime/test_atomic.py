"""The kubelet's atomic volume writer: ..data swaps, links, modes."""

from __future__ import annotations

import os
from pathlib import Path

from turnout.runtime import atomic
from turnout.runtime.volumes import File


def test_write_then_update_swaps_data_and_prunes(tmp_path: Path) -> None:
    vol = tmp_path / "v"
    assert atomic.write(vol, [File("a", b"1"), File("dir/b", b"2", 0o600)])
    assert (vol / "a").read_text() == "1" and (vol / "dir" / "b").read_text() == "2"
    assert os.readlink(vol / "a") == "..data/a" and (vol / "..data").is_symlink()
    assert (vol / "dir" / "b").stat().st_mode & 0o777 == 0o600
    first = os.readlink(vol / "..data")
    assert not atomic.write(vol, [File("a", b"1"), File("dir/b", b"2", 0o600)])
    assert atomic.write(vol, [File("a", b"changed")])
    assert (vol / "a").read_text() == "changed"
    assert not (vol / "dir").exists() and not (vol / first).exists()
    assert sorted(p.name for p in vol.iterdir()) == sorted(["..data", os.readlink(vol / "..data"),
                                                            "a"])
