"""The CLI loads only the module of the command it runs; the command table must stay complete."""

from __future__ import annotations

import argparse

from turnout.cli import main


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_every_registered_command_is_in_the_table() -> None:
    assert _subcommands(main.build_parser()) == set(main.COMMANDS)


def test_one_command_builds_only_its_module() -> None:
    assert "rollout" not in _subcommands(main.build_parser("up"))
    assert "up" in _subcommands(main.build_parser("up"))


def test_command_word_skips_global_options() -> None:
    assert main._command(["--state-dir", "x", "up", "--detach"]) == "up"
    assert main._command(["--version"]) is None
    assert main._command(["status", "-o", "json"]) == "status"
