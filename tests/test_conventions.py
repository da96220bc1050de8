"""pytest conventions: --help group, strict markers, report header, fixture docs, cheap start-up."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

OPTIONS = (
    "--dockerimages-profile", "--dockerimages-seed", "--dockerimages-record-mode", "--dockerimages-cassette-dir",
    "--dockerimages-docker-host", "--dockerimages-save-failed", "--dockerimages-real-daemon",
)
INI_KEYS = (
    "dockerimages_profile", "dockerimages_seed", "dockerimages_record_mode", "dockerimages_cassette_dir",
    "dockerimages_cassette_fallback", "dockerimages_pseudonyms", "dockerimages_real_daemon",
)
FIXTURES = ("dockerimages_fake", "dockerimages_host", "dockerimages_client", "dockerimages_httpx",
            "dockerimages_requests_adapter", "dockerimages_client_in_process", "dockerimages_cassette",
            "dockerimages_real_daemon", "_dockerimages_session_daemon")
#: What loading the plugin (and running tests that do not use it) must not import.
HEAVY = ("vcr", "jsonschema", "docker", "yaml", "requests", "httpx", "pytest_dockerimages._real.harness")


def _group_section(help_text: str) -> str:
    """The lines of the `dockerimages` group in `pytest --help`, up to the next group."""
    start = help_text.index("fake Docker daemon (pytest-dockerimages):")
    rest = help_text[start:].splitlines()[1:]
    lines = []
    for line in rest:
        if line and not line.startswith(" "):  # the next group's heading
            break
        lines.append(line)
    return "\n".join(lines)


def test_help_lists_every_option_in_the_dockerimages_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    section = _group_section(text)
    for option in OPTIONS:
        assert re.search(rf"^\s+{re.escape(option)}\b", section, re.M), f"{option} not in the dockerimages group"
    # and no --dockerimages-* option anywhere else
    everywhere = set(re.findall(r"^\s+(--dockerimages-[a-z-]+)", text, re.M))
    assert everywhere == set(OPTIONS)
    for key in INI_KEYS:
        assert re.search(rf"^\s+{key} \(", text, re.M), f"ini key {key} not in --help"


def test_help_shows_the_group_with_only_the_plugin_loaded_by_module_name(pytester: pytest.Pytester,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess("-p", "pytest_dockerimages.plugin", "--help")
    assert "fake Docker daemon (pytest-dockerimages):" in result.stdout.str()
    assert set(re.findall(r"^\s+(--dockerimages-[a-z-]+)", result.stdout.str(), re.M)) == set(OPTIONS)


def test_strict_markers_and_warnings_as_errors_pass_with_both_markers(pytester: pytest.Pytester,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_strict=textwrap.dedent("""
        import pytest

        @pytest.mark.dockerimages(profile="docker-26.1")
        def test_fake(dockerimages_fake):
            assert dockerimages_fake.profile.name == "docker-26.1"

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_cassette(dockerimages_cassette):
            assert dockerimages_cassette.interactions
    """))
    # only this plugin (other installed plugins may warn, e.g. pytest-benchmark under xdist)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess("-p", "dockerimages", "--strict-markers", "-W", "error",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, warnings=0)
    assert "warnings summary" not in result.stdout.str()
    result = pytester.runpytest_subprocess("-p", "dockerimages", "--markers")
    for line in ("@pytest.mark.dockerimages(images=None, seed=None*",
                 "@pytest.mark.dockerimages_cassette(name=None, record_mode=None, fallback=None)*"):
        result.stdout.fnmatch_lines([line])


def test_report_header_shows_profile_and_record_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["dockerimages: profile docker-29.7-containerd", "dockerimages: record mode none"])
    result = pytester.runpytest("-p", "no:cacheprovider", "--dockerimages-record-mode=new_episodes")
    result.stdout.fnmatch_lines(["dockerimages: record mode new_episodes (--dockerimages-record-mode, over markers)"])
    pytester.makeini("[pytest]\ndockerimages_record_mode = once\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["dockerimages: record mode once (ini, markers may override)"])
    pytester.makefile(".yaml", seed="images: []\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--dockerimages-profile", "docker-26.1",
                                "--dockerimages-seed", "seed.yaml")
    result.stdout.fnmatch_lines(["dockerimages: profile docker-26.1, seed *seed.yaml"])


def test_every_fixture_has_a_docstring(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--fixtures", "-v", "-p", "no:cacheprovider")
    lines = result.stdout.lines
    for name in FIXTURES:
        index = next((i for i, line in enumerate(lines) if line.startswith(name + " ")), None)
        assert index is not None, f"{name} is not listed by pytest --fixtures"
        following = lines[index + 1] if index + 1 < len(lines) else ""
        assert following.startswith("    ") and "no docstring available" not in following, (name, following)


def test_importing_the_plugin_is_cheap() -> None:
    code = (
        "import sys, pytest_dockerimages.plugin\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert not {name for name in imported if name.split(".")[0] in HEAVY or "realdaemon" == name.rsplit(".", 1)[-1]}


def test_a_run_that_does_not_use_the_plugin_imports_nothing_heavy(pytester: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Options, ini keys, markers, the report header and --help all work without the heavy modules."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest(textwrap.dedent(f"""
        import sys

        def pytest_sessionfinish(session):
            heavy = {HEAVY!r}
            found = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
            print("HEAVY:", found)
    """))
    pytester.makepyfile(test_plain="def test_x(): pass")
    result = pytester.runpytest_subprocess("-p", "dockerimages", "-s", "--dockerimages-profile=docker-26.1")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*HEAVY: []"])


def test_real_daemon_option_names_match_realdaemon() -> None:
    from pytest_dockerimages._real import fixture as realdaemon_fixture
    from pytest_dockerimages._real import harness as realdaemon

    assert realdaemon_fixture.VARIANT_NAMES == tuple(realdaemon.VARIANTS)
    assert realdaemon_fixture.DEFAULT_VARIANT == realdaemon.DEFAULT_VARIANT


def test_no_message_sends_a_user_to_a_file_only_a_checkout_has() -> None:
    """A hint naming scripts/, tests/, docs/ ... is useless to a user of the wheel (its twin in
    test_packaging scans the package as installed from the wheel)."""
    from hint_scan import checkout_references

    import pytest_dockerimages

    assert checkout_references(Path(pytest_dockerimages.__file__).parent) == []


def test_the_hint_scan_finds_checkout_paths(tmp_path: Path) -> None:
    from hint_scan import checkout_references

    (tmp_path / "m.py").write_text('"""Docstring: scripts/gen.py is fine here."""\n'
                                   'HINT = f"run python scripts/record.py {1}"\nOK = "pip install docker"\n'
                                   'EDITABLE = "pip install -e .[test]"\n')
    assert [hit.split(":")[1] for hit in checkout_references(tmp_path)] == ["2", "4"]


def test_every_subpackage_is_in_the_wheel() -> None:
    """pyproject.toml lists the packages by hand: a new subpackage missing there is missing from the
    wheel (the packaging tests find that too, but they are slow)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "pytest_dockerimages").rglob("__init__.py")}
    assert found - listed == set()
