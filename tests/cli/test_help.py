"""Every option of the telemetry, rollout and mesh commands says what it does (issue 10)."""

from __future__ import annotations

import argparse
from types import ModuleType

import pytest

from turnout.cli import mesh_cmds, rollout_cmds, telemetry_cmds

from . import screen


def parsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    return [p, *(q for s in subs for child in s.choices.values() for q in parsers(child))]


@pytest.mark.parametrize("module", [telemetry_cmds, rollout_cmds, mesh_cmds])
def test_every_option_has_help(module: ModuleType) -> None:
    root = screen.parser(module)
    missing = [f"{q.prog}: {a.option_strings or a.dest}" for q in parsers(root)[1:]
               for a in q._actions
               if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
               and not a.help]
    assert not missing
