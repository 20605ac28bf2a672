"""Write a volume's files the way the kubelet's AtomicWriter does, so readers never see a mix.

Layout of a volume directory::

    ..2026_01_02_15_04_05.123456789/app.properties   the files of one version
    ..data -> ..2026_01_02_15_04_05.123456789        swapped by rename(2) on every update
    app.properties -> ..data/app.properties          one link per top-level name

A program that re-opens ``app.properties`` sees either the old or the new version, never half of
each; the bind mount in the pod sees the swap because it shares the directory.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from turnout.runtime.volumes import File

DATA = "..data"


def current(target: Path) -> dict[str, tuple[bytes, int]]:
    """What the volume holds now: path → (content, mode)."""
    data = target / DATA
    out: dict[str, tuple[bytes, int]] = {}
    if not data.is_dir():
        return out
    for root, _, names in os.walk(data):
        for name in names:
            path = Path(root) / name
            out[str(path.relative_to(data))] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return out


def write(target: Path, files: Sequence[File]) -> bool:
    """Make ``target`` hold exactly ``files``; False when it already did."""
    want = {f.path: (f.data, f.mode) for f in files}
    if (target / DATA).is_symlink() and current(target) == want:
        return False
    target.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S", time.gmtime()) + f".{time.time_ns() % 10**9}"
    version = target / stamp
    version.mkdir(mode=0o755)
    for f in files:
        path = version / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
        os.chmod(path, f.mode)
    old = os.readlink(target / DATA) if (target / DATA).is_symlink() else None
    tmp = target / "..data_tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(stamp, tmp)
    os.replace(tmp, target / DATA)
    tops = {f.path.split("/", 1)[0] for f in files}
    for top in tops:
        link = target / top
        if not link.is_symlink():
            os.symlink(f"{DATA}/{top}", link)
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            if entry.name != DATA and entry.name != stamp and entry.is_dir() and \
                    not entry.is_symlink() and entry.name != old:
                shutil.rmtree(entry, ignore_errors=True)  # left by an interrupted write
            continue
        if entry.is_symlink() and entry.name not in tops:
            entry.unlink()
    if old and old != stamp:
        shutil.rmtree(target / old, ignore_errors=True)
    return True
