"""The image catalog: how an image reference becomes a local command, since there is no runtime.

Entries come from YAML files the user writes (``$TURNOUT_CATALOG``, ``<state_dir>/catalog.yaml``),
from other turnout packages via :meth:`Catalog.register`, and from the built-ins (``busybox`` runs
its command on the host, ``python:*`` runs it with this interpreter). An image with no entry whose
command exists on the host runs as a host command; anything else is an :class:`ImageError` whose
message says exactly how to add an entry.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from turnout.types import Obj

PYTHON_NAMES = frozenset({"python", "python3", f"python3.{sys.version_info.minor}"})


class CatalogError(Exception):
    """A catalog file or entry is malformed; the message names the file and field."""


class ImageError(Exception):
    """The image cannot be turned into a command (kubelet reason ErrImagePull)."""


@dataclass(frozen=True)
class Entry:
    image: str
    """Glob on the normalised reference (``name:tag``); no tag in the pattern means ``:latest``."""
    run: tuple[str, ...] | None = None
    """argv template; None runs the container's own command+args on the host."""
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    entrypoint: tuple[str, ...] = ()
    """The image's ENTRYPOINT, used when the container sets no ``command``."""
    cmd: tuple[str, ...] = ()
    """The image's CMD, used when the container sets neither ``command`` nor ``args``."""
    python: bool = False
    """Map ``python``/``python3`` as argv[0] to the running interpreter."""
    source: str = "<builtin>"

    def matches(self, reference: str) -> bool:
        return fnmatch.fnmatchcase(normalize(reference), normalize(self.image))


@dataclass(frozen=True)
class Launch:
    """What to execute for one container."""

    argv: list[str]
    env: dict[str, str]
    working_dir: str | None
    how: str
    """Human description for events ("catalog entry busybox:* (<builtin>)", "host command")."""


def normalize(reference: str) -> str:
    """``docker.io/library/busybox`` → ``busybox:latest``; digests and tags are kept."""
    ref = reference.strip()
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else ref + ":latest"


def split_tag(reference: str) -> tuple[str, str]:
    ref = normalize(reference)
    if "@" in ref:
        name, _, digest = ref.partition("@")
        return name, digest
    name, _, tag = ref.rpartition(":")
    return name, tag


def entry_from_dict(data: object, source: str) -> Entry:
    """Validate one YAML entry; errors name ``source`` and the field."""
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: each entry must be a mapping with an 'image' field")
    image = data.get("image")
    if not isinstance(image, str) or not image:
        raise CatalogError(f"{source}: entry field 'image' must be a non-empty string")
    where = f"{source}: image {image!r}"

    def strings(name: str) -> tuple[str, ...] | None:
        value = data.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise CatalogError(f"{where}: field '{name}' must be a list of strings")
        return tuple(str(v) for v in value)

    env = data.get("env") or {}
    if not isinstance(env, dict):
        raise CatalogError(f"{where}: field 'env' must be a mapping of names to values")
    wd = data.get("workingDir")
    if wd is not None and not isinstance(wd, str):
        raise CatalogError(f"{where}: field 'workingDir' must be a string")
    unknown = set(data) - {"image", "run", "env", "workingDir", "entrypoint", "cmd", "python"}
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {sorted(unknown)}")
    return Entry(
        image=image,
        run=strings("run"),
        env={str(k): str(v) for k, v in env.items()},
        working_dir=wd,
        entrypoint=strings("entrypoint") or (),
        cmd=strings("cmd") or (),
        python=bool(data.get("python", False)),
        source=source,
    )


def load_file(path: Path) -> list[Entry]:
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise CatalogError(f"{path}: not valid YAML: {e}") from e
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("images", []), list):
        raise CatalogError(f"{path}: expected a mapping with a list under 'images'")
    return [entry_from_dict(item, str(path)) for item in doc.get("images") or []]


BUILTINS: tuple[Entry, ...] = (
    Entry(image="busybox:*", cmd=("sh",)),
    Entry(image="python:*", cmd=("python3",), python=True),
)


def _splice(template: Sequence[str], values: Mapping[str, str], lists: Mapping[str, list[str]]
            ) -> list[str]:
    out: list[str] = []
    for part in template:
        if part in lists:
            out.extend(lists[part])
        else:
            try:
                out.append(part.format_map(values) if "{" in part else part)
            except (KeyError, ValueError, IndexError) as e:
                raise ImageError(f"catalog 'run' item {part!r}: unknown placeholder {e}") from e
    return out


class Catalog:
    """Ordered image entries: user files, then registered entries, then built-ins."""

    def __init__(self, paths: Iterable[Path] = (), *, builtins: bool = True) -> None:
        self.paths = [Path(p) for p in paths]
        self._registered: list[Entry] = []
        self._builtins = list(BUILTINS) if builtins else []

    @classmethod
    def default(cls, state_dir: Path) -> Catalog:
        """Files in ``$TURNOUT_CATALOG`` (os.pathsep-separated), ``<state_dir>/catalog.yaml``."""
        paths = [Path(p) for p in os.environ.get("TURNOUT_CATALOG", "").split(os.pathsep) if p]
        return cls([*paths, state_dir / "catalog.yaml"])

    @property
    def user_file(self) -> Path | None:
        return self.paths[-1] if self.paths else None

    def register(self, entry: Entry | Obj) -> None:
        """Add an entry (an :class:`Entry` or the YAML-shaped dict); earlier ones win."""
        if not isinstance(entry, Entry):
            entry = entry_from_dict(entry, "<registered>")
        self._registered.append(entry)

    def entries(self) -> list[Entry]:
        """All entries, reading the files now so edits apply to the next container start."""
        found: list[Entry] = []
        for path in self.paths:
            if path.is_file():
                found.extend(load_file(path))
        return [*found, *self._registered, *self._builtins]

    def find(self, image: str) -> Entry | None:
        return next((e for e in self.entries() if e.matches(image)), None)

    def check(self, image: str, command: list[str] | None, mounted: Sequence[str] = ()
              ) -> dict[str, str]:
        """The "pull" step: the entry's env if the image can run, else ImageError.

        ``mounted``: the container's mount paths; a program under one (a script from a
        ConfigMap) exists only in the container's own view, so it is not looked for here."""
        entry = self.find(image)
        if entry is not None:
            return dict(entry.env)
        if command and _which(command[0], None, mounted):
            return {}
        raise ImageError(self.missing_message(image, command, None))

    def resolve(
        self,
        image: str,
        command: list[str] | None,
        args: list[str] | None,
        path_env: str | None = None,
        mounted: Sequence[str] = (),
    ) -> Launch:
        """The argv for a container with Kubernetes command/args semantics, or ImageError."""
        entry = self.find(image)
        if entry is None:
            if command and _which(command[0], path_env, mounted):
                return Launch([*command, *(args or [])], {}, None, "host command")
            raise ImageError(self.missing_message(image, command, args))
        entrypoint = list(command) if command is not None else list(entry.entrypoint)
        rest = list(args) if args is not None else [] if command is not None else list(entry.cmd)
        name, tag = split_tag(image)
        argv_in = [*entrypoint, *rest]
        if entry.python and argv_in and Path(argv_in[0]).name in PYTHON_NAMES:
            argv_in[0] = sys.executable
        if entry.run is None:
            argv = argv_in
            if not argv:
                raise ImageError(f'image "{image}": no command to run (set command or args)')
            if not _which(argv[0], path_env, mounted):
                raise ImageError(
                    f'image "{image}" runs its command on this host, but "{argv[0]}" was not '
                    f"found on PATH; install it or add a catalog entry. "
                    + self._how_to(image)
                )
        else:
            values = {"python": sys.executable, "image": name, "tag": tag,
                      "args": " ".join(argv_in), "command": " ".join(entrypoint)}
            argv = _splice(entry.run, values, {"{args}": argv_in, "{command}": entrypoint})
        how = f"catalog entry {entry.image} ({entry.source})"
        return Launch(argv, dict(entry.env), entry.working_dir, how)

    def _how_to(self, image: str) -> str:
        target = self.user_file or Path("$TURNOUT_CATALOG")
        name, _ = split_tag(image)
        return (
            f"To run it, add an entry to {target}:\n"
            "images:\n"
            f'  - image: "{name}:*"\n'
            '    run: ["{python}", "-m", "your.module", "{args}"]   # or any host command\n'
            "    env: {}\n"
        )

    def missing_message(self, image: str, command: list[str] | None, args: list[str] | None
                        ) -> str:
        why = (
            f'command "{command[0]}" is not on this host\'s PATH' if command
            else "the container sets no command"
        )
        return (
            f'image "{image}" has no entry in the turnout image catalog and {why}. '
            "turnout runs images as local processes. " + self._how_to(image)
        )


def _which(program: str, path_env: str | None, mounted: Sequence[str] = ()) -> bool:
    if program.startswith("/") and any(program.startswith(m.rstrip("/") + "/") for m in mounted):
        return True
    if "/" in program:
        return os.access(program, os.X_OK) and Path(program).is_file()
    return shutil.which(program, path=path_env) is not None
