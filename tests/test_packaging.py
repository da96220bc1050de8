"""The wheel, installed in a fresh venv and used from outside the checkout.

Builds a wheel from a copy of the sources (so the checkout gets no build/ or egg-info), installs it
with its runtime dependencies (from the package index) in a plain `python -m venv` (no system site
packages: the checkout's editable install is invisible there), then checks what a user gets: the
plugin loads through its entry point, the shipped schemas and cassettes are inside the installed
package, `dockerimages` runs, and the package is typed: a downstream module using every public name
passes `mypy --strict` and basedpyright against the installed wheel. About a minute; runs in CI.
"""
from __future__ import annotations

import ast
import io
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path
from typing import Iterator

import pytest

from pytest_dockerimages._real.fixture import skip_or_fail

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "pytest_dockerimages", "schemas", "cassettes")
#: a downstream project's typed module that uses every public name (see its docstring)
DOWNSTREAM = ROOT / "tests" / "downstream_typed.py"
SUBCOMMANDS = ("serve", "profiles", "record", "validate", "snapshot", "check", "schema")
#: pip's words for "the index could not be reached": only then skip (locally) instead of failing.
OFFLINE = re.compile(r"(Could not find a version|No matching distribution|Failed to establish a new connection|"
                     r"Temporary failure in name resolution|Network is unreachable|ConnectTimeout|ReadTimeout)")


class Installed:
    def __init__(self, venv: Path, work: Path, wheel: Path) -> None:
        self.venv = venv
        self.wheel = wheel
        self.work = work  # an empty folder outside the checkout, the cwd of every command
        self.python = venv / "bin" / "python"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTEST_ADDOPTS",
                                 "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
        self.env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"

    def run(self, *args: str | Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], cwd=self.work, env={**self.env, **env}, capture_output=True,
                              text=True, timeout=timeout)

    def python_out(self, code: str) -> str:
        result = self.run(self.python, "-c", code)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


def _check(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        output = result.stdout + result.stderr
        if OFFLINE.search(output):
            skip_or_fail(f"{what}: the package index is not reachable:\n{output[-2000:]}")
        pytest.fail(f"{what} failed (exit {result.returncode}):\n{output[-4000:]}", pytrace=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("packaging")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = base / "dist"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # an absolute path: a bare folder name would be taken for a project name on the index
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
                           cwd=base, env=env, capture_output=True, text=True, timeout=300)
    _check(build, "building the wheel")
    wheels = sorted(dist.glob("pytest_dockerimages-*.whl"))
    assert len(wheels) == 1, wheels
    venv = base / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], cwd=base, env=env, capture_output=True,
                          text=True, timeout=300)
    _check(made, "python -m venv")
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    work = base / "work"
    work.mkdir()
    box = Installed(venv, work, wheels[0])
    install = box.run(box.python, "-m", "pip", "install", "-q", str(wheels[0]), timeout=600,
                      PIP_DISABLE_PIP_VERSION_CHECK="1")
    _check(install, "installing the wheel in a fresh venv")
    yield box


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    location = Path(installed.python_out("import pytest_dockerimages; print(pytest_dockerimages.__file__)"))
    assert installed.venv in location.parents and ROOT not in location.parents


def test_plugin_loads_and_its_fixtures_work(installed: Installed) -> None:
    result = installed.run(installed.python, "-m", "pytest", "-p", "dockerimages", "--help",
                           PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    assert result.returncode == 0, result.stderr
    assert "fake Docker daemon (pytest-dockerimages):" in result.stdout
    assert "--dockerimages-record-mode" in result.stdout and "--dockerimages-real-daemon" in result.stdout
    (installed.work / "test_installed.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.dockerimages(images=[{"tags": ["shop/app:1.0"]}], profile="docker-26.1")
        def test_fake(dockerimages_fake):
            assert [t.familiar for i in dockerimages_fake.images for t in i.tags] == ["shop/app:1.0"]
            assert dockerimages_fake.docker_host.startswith("unix://")

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_shipped_cassette(dockerimages_cassette):
            assert dockerimages_cassette.interactions
    """))
    result = installed.run(installed.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_installed.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "dockerimages: profile docker-29.7-containerd" not in result.stdout  # -q hides the header
    result = installed.run(installed.python, "-m", "pytest", "-p", "no:cacheprovider", "test_installed.py")
    assert "dockerimages: profile docker-29.7-containerd" in result.stdout, result.stdout  # loaded by entry point


def test_schemas_and_cassettes_are_inside_the_installed_package(installed: Installed) -> None:
    out = installed.python_out(
        "import pytest_dockerimages as p; from pytest_dockerimages._files.resources import data_dir\n"
        "print(p.__file__); print(data_dir('schemas')); print(data_dir('cassettes'))")
    package_file, schemas, cassettes = (Path(line) for line in out.splitlines())
    package = package_file.parent
    assert schemas.parent == package and cassettes.parent == package
    assert list(schemas.glob("*.json")), "no schema in the wheel"
    assert {p.name for p in cassettes.glob("*.yaml")} >= {"docker-20.10.yaml", "docker-26.1.yaml",
                                                          "docker-26.1-containerd.yaml"}
    assert (package / "py.typed").is_file()
    assert (package / "hookspecs.py").is_file() and (package / "_cassettes" / "replay.py").is_file()


def test_entry_points(installed: Installed) -> None:
    out = installed.python_out(
        "from importlib.metadata import entry_points\n"
        "print([(e.name, e.value) for e in entry_points(group='pytest11')])\n"
        "print([(e.name, e.value) for e in entry_points(group='console_scripts') if e.name == 'dockerimages'])")
    plugins, scripts = out.splitlines()
    assert "('dockerimages', 'pytest_dockerimages.plugin')" in plugins
    assert "('dockerimages', 'pytest_dockerimages._cli.main:main')" in scripts


def test_dockerimages_help_lists_every_subcommand(installed: Installed) -> None:
    result = installed.run(installed.venv / "bin" / "dockerimages", "--help")
    assert result.returncode == 0, result.stderr
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+{name}\s", result.stdout, re.M), f"{name} missing:\n{result.stdout}"


def test_dockerimages_serve_prints_docker_host_and_stops_on_sigterm(installed: Installed) -> None:
    proc = subprocess.Popen([str(installed.venv / "bin" / "dockerimages"), "serve"], cwd=installed.work,
                            env={**installed.env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "dockerimages serve printed nothing within 30 s"
        line = proc.stdout.readline().strip()
        assert re.fullmatch(r"DOCKER_HOST=unix:///\S+\.sock", line), line
        socket_path = line.split("unix://", 1)[1]
        assert os.path.exists(socket_path)
        from pytest_dockerimages._http.unixhttp import request

        status, _, body = request(line.split("=", 1)[1], "GET", "/_ping")
        assert (status, body) == (200, b"OK")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
        assert not os.path.exists(socket_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_no_message_of_the_installed_package_names_a_checkout_file(installed: Installed) -> None:
    from hint_scan import checkout_references

    package = Path(installed.python_out("import pytest_dockerimages; print(pytest_dockerimages.__file__)")).parent
    assert installed.venv in package.parents
    assert checkout_references(package) == []


def test_installed_plugin_hints_speak_to_a_pip_user(installed: Installed) -> None:
    """A cassette miss on a built-in cassette, a missing cassette, a misspelt marker: from the wheel."""
    (installed.work / "test_hints.py").write_text(textwrap.dedent("""
        import pytest
        from pytest_dockerimages._http.unixhttp import request

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_miss(dockerimages_cassette):
            request(dockerimages_cassette.docker_host, "GET", "/v1.45/images/json?filters=%7B%22label%22%3A%5B%22zzz%22%5D%7D")

        @pytest.mark.dockerimages_cassette("nope")
        def test_missing(dockerimages_cassette):
            pass

        @pytest.mark.dockerimage(images=[])
        def test_typo(dockerimages_fake):
            pass

        @pytest.mark.dockerimages(images=[{"tags": ["shop/app:"]}])
        def test_bad_image(dockerimages_fake):
            pass
    """))
    result = installed.run(installed.python, "-m", "pytest", "-p", "no:cacheprovider", "-W",
                           "ignore::pytest.PytestUnknownMarkWarning", "test_hints.py")
    out = result.stdout
    assert "fallback=True" in out and "--dockerimages-record-mode=once" in out, out
    assert "or name a built-in cassette: docker-20.10, docker-26.1, docker-26.1-containerd" in out
    assert "did you mean @pytest.mark.dockerimages?" in out
    assert "'shop/app:': invalid reference format: invalid tag format: the tag after ':' is empty" in out
    assert "Traceback" not in out and "scripts/" not in out
    served = installed.run("dockerimages", "serve", "--tcp", "0.0.0.0:0")
    assert served.returncode == 2 and "add --allow-remote" in served.stderr


# --------------------------------------------------------------------------- typed for a downstream project

@pytest.fixture(scope="module")
def with_httpx(installed: Installed) -> Installed:
    """The same venv after `pip install "pytest-dockerimages[httpx,docker]"` (from the wheel): the extras work."""
    install = installed.run(installed.python, "-m", "pip", "install", "-q", f"{installed.wheel}[httpx,docker]",
                            timeout=600)
    _check(install, "installing the httpx and docker extras")
    installed.python_out("import httpx, requests")
    return installed


def _checker(module: str, what: str) -> None:
    """The type checkers run from this environment (the lint extra), against the venv's packages."""
    if subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True).returncode != 0:
        skip_or_fail(f"{what} is not installed here (pip install -e \".[lint]\")")


def _imported_names(source: str) -> set[str]:
    return {alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
            and node.module == "pytest_dockerimages" for alias in node.names}


def _opt_outs(source: str) -> list[str]:
    """`Any`, `cast(...)` and ignore comments: what would let an untyped name through."""
    names = [node.id if isinstance(node, ast.Name) else node.attr for node in ast.walk(ast.parse(source))
             if isinstance(node, (ast.Name, ast.Attribute))]
    comments = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]
    return ([n for n in names if n in ("Any", "cast")]
            + [c for c in comments if re.search(r"(type|pyright|mypy): *ignore", c)])


class Downstream:
    """A downstream project's folder beside the venv: tests/downstream_typed.py and checker configs."""

    def __init__(self, installed: Installed) -> None:
        self.installed = installed
        self.folder = installed.work / "downstream"
        self.folder.mkdir(exist_ok=True)
        self.module = self.folder / "typed_usage.py"
        self.module.write_text(DOWNSTREAM.read_text(encoding="utf-8"), encoding="utf-8")
        # strict, and no expression may be Any: an export that reaches users untyped is an error
        (self.folder / "mypy.ini").write_text("[mypy]\nstrict = True\ndisallow_any_expr = True\n")
        (self.folder / "pyrightconfig.json").write_text(json.dumps({
            "include": [self.module.name], "typeCheckingMode": "strict", "reportAny": "error",
            "reportPrivateUsage": "error"}))

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], cwd=self.folder, env=self.installed.env, capture_output=True,
                              text=True, timeout=600)


@pytest.fixture(scope="module")
def downstream(with_httpx: Installed) -> Downstream:
    return Downstream(with_httpx)


def test_the_downstream_module_uses_every_public_name_and_no_opt_out(installed: Installed) -> None:
    source = DOWNSTREAM.read_text(encoding="utf-8")
    public = set(json.loads(installed.python_out("import json, pytest_dockerimages as p; print(json.dumps(p.__all__))")))
    assert _imported_names(source) == public, "tests/downstream_typed.py must use exactly the names of __all__"
    assert not _opt_outs(source), f"tests/downstream_typed.py must not opt out of checking: {_opt_outs(source)}"


def test_the_downstream_module_passes_mypy_strict(downstream: Downstream) -> None:
    """`mypy --strict --disallow-any-expr`, run from here (the lint extra) on the venv's packages."""
    _checker("mypy", "mypy")
    result = downstream.run(sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--python-executable",
                            downstream.installed.python, "--cache-dir", downstream.folder / ".mypy_cache",
                            downstream.module.name)
    assert result.returncode == 0 and "Success: no issues found in 1 source file" in result.stdout, \
        f"mypy --strict:\n{result.stdout}{result.stderr}"


def test_the_downstream_module_passes_basedpyright(downstream: Downstream) -> None:
    """basedpyright (pyright from PyPI), strict with reportAny, on the venv's packages."""
    _checker("basedpyright", "basedpyright")
    result = downstream.run(sys.executable, "-m", "basedpyright", "--pythonpath", downstream.installed.python,
                            "--outputjson")
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"basedpyright gave no report:\n{result.stdout}{result.stderr}", pytrace=False)
    assert report["summary"]["filesAnalyzed"] == 1, report["summary"]
    problems = [f"{downstream.module.name}:{d['range']['start']['line'] + 1}: {d['message']} ({d.get('rule', '')})"
                for d in report["generalDiagnostics"] if d["severity"] in ("error", "warning")]
    assert result.returncode == 0 and not problems, "basedpyright:\n" + "\n".join(problems)


def test_the_downstream_module_runs(downstream: Downstream) -> None:
    """What the checkers were told is what the package does."""
    result = downstream.run(downstream.installed.python, downstream.module.name)
    assert result.returncode == 0 and "downstream module ran" in result.stdout, result.stdout + result.stderr


def test_without_httpx_the_transport_import_names_the_extra(installed: Installed) -> None:
    out = installed.python_out(
        "import sys; sys.modules['httpx'] = None\n"
        "from pytest_dockerimages import FakeDaemon\n"
        "try:\n    from pytest_dockerimages import DockerImagesTransport\n"
        "except ModuleNotFoundError as exc:\n    print(exc)")
    assert 'pip install "pytest-dockerimages[httpx]"' in out


def test_cassette_names_and_schemas_from_the_wheel(installed: Installed) -> None:
    cli = installed.venv / "bin" / "dockerimages"
    validated = installed.run(cli, "validate", "docker-26.1", "docker-20.10")
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.count(": ok, ") == 2
    schema = installed.run(cli, "schema", "seed")
    assert schema.returncode == 0 and '"$id": "urn:pytest-dockerimages:schema:seed:1"' in schema.stdout


def test_optional_bridges_are_extras_and_say_which(installed: Installed) -> None:
    out = installed.python_out(
        "import importlib.metadata, re, sys\n"
        "plain = [r for r in importlib.metadata.requires('pytest-dockerimages') if 'extra ==' not in r]\n"
        "print(sorted(n for n in ('vcrpy', 'requests') if any(re.match(n + r'\\b', r) for r in plain)))\n"
        "sys.modules['vcr'] = None  # as where the extra is not installed\n"
        "try:\n    import pytest_dockerimages.vcrpy\nexcept ImportError as exc:\n    print(exc)\n")
    required, message = out.splitlines()
    assert required == "[]", "vcrpy and requests are extras, not runtime dependencies"
    assert "pip install 'pytest-dockerimages[vcrpy]'" in message
