"""`dockerimages --help` lists every subcommand, and each subcommand's --help shows an example."""
from __future__ import annotations

import re

import pytest

from pytest_dockerimages._cli.main import build_parser, main

SUBCOMMANDS = ("serve", "profiles", "record", "validate", "snapshot", "check", "schema")


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+{name}\s+\S", text, re.M), f"{name} missing from dockerimages --help"
    registered = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert registered == set(SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_help_shows_a_runnable_looking_example(command: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, command)
    assert re.search(r"^examples?:$", text, re.M), f"dockerimages {command} --help has no example section"
    examples = re.findall(rf"^  dockerimages {command}\b.*$", text, re.M)
    assert examples, f"dockerimages {command} --help shows no 'dockerimages {command} ...' line"
