"""Mount points on the node and in-place hosts files."""

from __future__ import annotations

import os
from pathlib import Path

from turnout.runtime.podvolumes import MountPoints, write_in_place


def test_mount_points_go_when_their_last_pod_does(tmp_path: Path) -> None:
    points = MountPoints()
    target = tmp_path / "etc" / "config"
    points.ensure(str(target), False, "a")
    points.ensure(str(target), False, "b")
    points.ensure(str(tmp_path / "etc" / "app.conf"), True, "b")
    assert target.is_dir() and (tmp_path / "etc" / "app.conf").is_file()
    points.release("a")
    assert target.is_dir()
    points.release("b")
    assert not (tmp_path / "etc").exists() and tmp_path.is_dir()


def test_mount_points_never_remove_what_was_there(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    points = MountPoints()
    points.ensure(str(tmp_path / "etc" / "x"), False, "a")
    (tmp_path / "etc" / "x" / "written").write_text("by someone")
    points.release("a")
    assert (tmp_path / "etc" / "x" / "written").exists()  # not empty: left in place


def test_write_in_place_keeps_the_inode(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    assert write_in_place(path, "one long line\n")
    inode = os.stat(path).st_ino
    assert not write_in_place(path, "one long line\n")
    assert write_in_place(path, "short\n")
    assert path.read_text() == "short\n" and os.stat(path).st_ino == inode
