"""README.md stays true: its code blocks run, and its reference tables match the code.

Code blocks:

- a ```python block that defines ``test_`` functions is a test file, run with pytester (plugin on);
- a ```python block whose first line is ``# conftest.py`` is the conftest of the next python block
  (or, if no test block follows it, loaded with a trivial test: its hook names must be valid);
- any other ```python block is a script, run with this interpreter;
- a ```sh block runs its ``dockerimages ...`` and ``pytest ...`` lines (each must exit 0); it may hold
  nothing else. "Your daemon" (``unix:///var/run/docker.sock``) is a stand-in: the fake itself, which
  answers /version, /info, listings and inspects as a daemon does; a ``pytest ... tests/`` line runs a
  small recording test folder instead of ``tests/``;
- a first line ``# needs: WHAT`` skips a block: ``docker CLI`` (run where the docker CLI is, and
  always in CI), anything else (``network``: the set-up commands, which .ci/run itself runs) skips.

Recording examples record from a fake daemon (``--dockerimages-docker-host``), so they run here.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from pytest_dockerimages._real.fixture import skip_or_fail

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")


@dataclass
class Block:
    lang: str
    line: int  # of the opening fence
    code: str
    conftest: str | None = None

    @property
    def needs(self) -> str | None:
        first = self.code.lstrip().splitlines()[0] if self.code.strip() else ""
        found = re.match(r"#\s*needs:\s*(.+)", first)
        return found.group(1).strip() if found else None

    @property
    def is_conftest(self) -> bool:
        return self.code.lstrip().startswith("# conftest.py")

    @property
    def defines_tests(self) -> bool:
        return re.search(r"^def test_", self.code, re.M) is not None

    def __str__(self) -> str:
        return f"README.md:{self.line}"


def _blocks() -> list[Block]:
    blocks = []
    pending_conftest: Block | None = None
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", TEXT, re.M | re.S):
        block = Block(match.group(1), TEXT.count("\n", 0, match.start()) + 1, match.group(2))
        if block.lang == "python":
            if block.is_conftest:
                if pending_conftest is not None:
                    blocks.append(pending_conftest)  # a conftest without a test of its own
                pending_conftest = block
                continue
            if pending_conftest is not None:
                block.conftest = pending_conftest.code
                pending_conftest = None
        blocks.append(block)
    if pending_conftest is not None:
        blocks.append(pending_conftest)
    return blocks


BLOCKS = _blocks()


def _skip_for(block: Block) -> None:
    needs = block.needs
    if needs is None:
        return
    if needs.lower() == "docker cli":
        if shutil.which("docker") is None:
            skip_or_fail(f"{block} needs the docker CLI, which is not installed")
        return
    pytest.skip(f"{block} needs {needs} (marked '# needs: {needs}' in the README)")


@pytest.fixture
def upstream() -> Iterator[str]:
    """A daemon for the recording examples to record from: the fake itself."""
    from pytest_dockerimages._core.defaults import default_images
    from pytest_dockerimages._fake.fakedaemon import FakeDaemon

    with FakeDaemon(images=default_images(), profile="docker-26.1") as daemon:
        yield daemon.docker_host


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "python"], ids=str)
def test_python_block(block: Block, pytester: pytest.Pytester, upstream: str) -> None:
    _skip_for(block)
    if block.is_conftest:  # a conftest on its own: it must load, with valid hook names
        pytester.makeconftest(block.code)
        pytester.makepyfile(test_readme_block="def test_loads():\n    pass\n")
    elif block.defines_tests:
        if block.conftest is not None:
            pytester.makeconftest(block.conftest)
        pytester.makepyfile(test_readme_block=block.code)
    else:
        script = pytester.path / "readme_block.py"
        script.write_text(block.code, encoding="utf-8")
        run = subprocess.run([sys.executable, str(script)], cwd=pytester.path, capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, f"{block} failed:\n{run.stdout}\n{run.stderr}"
        return
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error::pytest.PytestUnknownMarkWarning",
                                           f"--dockerimages-docker-host={upstream}", "-ra")
    outcomes = result.parseoutcomes()
    assert result.ret == 0 and outcomes.get("passed", 0) >= 1, f"{block} failed:\n{result.stdout.str()}"
    if block.defines_tests:
        defined = len(re.findall(r"^def test_", block.code, re.M))
        assert outcomes.get("passed") == defined, f"{block}: not every test passed:\n{result.stdout.str()}"


def _commands(block: Block) -> list[list[str]]:
    commands = []
    for raw in block.code.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        assert words[0] in ("dockerimages", "pytest"), (
            f"{block}: '{line}' is not a dockerimages or pytest command; run it here or mark the block '# needs: ...'")
        commands.append(words)
    return commands


YOUR_DAEMON = "unix:///var/run/docker.sock"
RECORDING_TEST = '''
import pytest

@pytest.mark.dockerimages_cassette
def test_lists_images(dockerimages_client):
    assert dockerimages_client.images.list()
'''


def _argv(words: list[str], upstream: str, tmp_path: Path) -> list[str]:
    """The command to run: your daemon is the stand-in, and `tests/` a small recording test folder."""
    words = [w.replace(YOUR_DAEMON, upstream) for w in words]
    if words[0] == "dockerimages":
        return [sys.executable, "-m", "pytest_dockerimages._cli.main", *words[1:]]
    folder = tmp_path / "tests"
    folder.mkdir(exist_ok=True)
    (folder / "test_recording.py").write_text(RECORDING_TEST, encoding="utf-8")
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
            *[str(folder) if w == "tests/" else w for w in words[1:]]]


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang in ("sh", "bash", "console")], ids=str)
def test_sh_block(block: Block, tmp_path: Path, upstream: str) -> None:
    _skip_for(block)
    commands = _commands(block)
    assert commands, f"{block} runs nothing"
    for words in commands:
        run = subprocess.run(_argv(words, upstream, tmp_path), cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, f"{block}: {' '.join(words)} failed:\n{run.stdout}\n{run.stderr}"
        assert run.stdout.strip(), f"{block}: {' '.join(words)} printed nothing"
        if words[0] == "pytest" and "--dockerimages-record-mode=once" in words:
            assert list((tmp_path / "tests" / "cassettes").rglob("*.yaml")), f"{block}: nothing was recorded"


def test_the_readme_has_runnable_blocks() -> None:
    runnable = [b for b in BLOCKS if b.needs is None and b.lang in ("python", "sh")]
    assert sum(b.defines_tests for b in runnable) >= 4
    assert any(b.lang == "sh" for b in runnable)


# --------------------------------------------------------------------------- tables


def _section(title: str) -> str:
    """The text under a ``## title`` or ``### title`` heading, up to the next such heading (a ``# ...``
    line in a code block is a comment, not a heading)."""
    found = re.search(rf"^##+ {re.escape(title)}\n(.*?)(?=^##+ |\Z)", TEXT, re.M | re.S)
    assert found, f"README has no '{title}' section"
    return found.group(1)


def _rows(section: str) -> list[list[str]]:
    """The table rows of a section (cells stripped), without the header row."""
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not set(line) <= set("|- :"):
            rows.append([cell.strip() for cell in line.replace("\\|", "\u00a6").split("|")[1:-1]])
    return rows[1:]


def _first_column(section: str) -> list[str]:
    return [row[0] for row in _rows(section)]


def test_options_table_matches_the_plugin(pytester: pytest.Pytester) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    options = set(re.findall(r"^\s+(--dockerimages-[a-z-]+)", help_text, re.M))
    ini_keys = set(re.findall(r"^\s+(dockerimages_[a-z_]+) \(", help_text, re.M))
    table = _section("Options and ini keys")
    assert set(re.findall(r"`(--dockerimages-[a-z-]+)`", table)) == options
    assert set(re.findall(r"`(dockerimages_[a-z_]+)`", table)) == ini_keys


def test_fixtures_table_matches_the_plugin() -> None:
    import importlib

    from pytest_dockerimages import plugin

    modules = [plugin, *map(importlib.import_module, plugin.pytest_plugins)]  # the modules it registers
    public = {name for module in modules for name in dir(module) if name.startswith("dockerimages_")
              and (type(getattr(module, name)).__name__ == "FixtureFunctionDefinition"
                   or hasattr(getattr(module, name), "_pytestfixturefunction"))}
    assert {cell.strip("`") for cell in _first_column(_section("Fixtures"))} == public


def test_markers_table_matches_the_plugin() -> None:
    from pytest_dockerimages import plugin
    from pytest_dockerimages._cassettes import fixtures as cassette_fixtures

    rows = {row[0].strip("`"): row[1] for row in _rows(_section("Markers"))}
    assert set(rows) == {plugin.MARKER, plugin.CASSETTE_MARKER}
    for keyword in plugin.MARKER_KEYWORDS:
        assert f"{keyword}=" in rows[plugin.MARKER]
    for keyword in cassette_fixtures.MARKER_KWARGS:
        assert keyword in rows[plugin.CASSETTE_MARKER]


def test_profiles_table_matches_the_profiles() -> None:
    from pytest_dockerimages._core.profiles import DEFAULT_PROFILE, PROFILES

    section = _section("Profiles")
    named = set()
    for cell in _first_column(section):
        named |= set(re.findall(r"`([^`]+)`", cell))
    assert named == set(PROFILES)
    for row in _rows(section):
        for name in re.findall(r"`(docker-[^`]+)`", row[0]):
            profile = PROFILES[name]
            assert row[3] == f"{profile.api_min}-{profile.api_max}", (name, row)
            assert profile.engine_version.startswith(row[1]), (name, row)
            assert row[2] in (profile.store, "both"), (name, row)
    assert f"The default is `{DEFAULT_PROFILE}`" in section


def test_record_modes_table_matches_the_code() -> None:
    from pytest_dockerimages._cassettes.fixtures import RECORD_MODES

    modes = [cell.strip("`").split("`")[0] for cell in _first_column(_section("Record modes"))]
    assert modes == list(RECORD_MODES)


def test_command_table_lists_every_subcommand() -> None:
    from pytest_dockerimages._cli.main import build_parser

    parser = build_parser()
    subcommands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    listed = {cell.strip("`").split()[1] for cell in _first_column(_section("Command line"))}
    assert listed == subcommands


def test_hooks_section_documents_every_hook() -> None:
    from pytest_dockerimages import hookspecs

    section = _section("Extension hooks")
    for name in hookspecs.__all__:
        assert f"`{name}(" in section, f"{name} is not documented in the README"
        assert f"def {name}(" in section, f"{name} has no example in the README"
