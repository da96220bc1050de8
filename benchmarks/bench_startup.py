"""4. Plugin start-up: `pytest -p dockerimages --collect-only` on an empty folder vs `-p no:dockerimages`.

Both runs set PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 and name the plugin with -p, so the only
difference is this plugin. `python -X importtime` then lists what loading it imports: the heavy
optional libraries (vcrpy, jsonschema, the docker SDK, PyYAML, requests) must not be among them.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import Check, Result, fmt_s, one_round, round_robin

HEAVY = ("vcr", "jsonschema", "docker", "yaml", "requests", "urllib3", "httpx", "fastjsonschema")


def _env(autoload: bool = False) -> dict[str, str]:
    # Bytecode caches on (as for any user after the first run): with PYTHONDONTWRITEBYTECODE set,
    # pytest's assertion rewriter re-parses and recompiles the plugin's modules on every run.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COV_")) and k != "PYTHONDONTWRITEBYTECODE"}
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def _command(folder: Path, plugin: str | None, *extra: str) -> list[str]:
    return [sys.executable, *extra, "-m", "pytest", *(["-p", plugin] if plugin else []), "--collect-only", "-q",
            "-p", "no:cacheprovider", str(folder)]


def _run(cmd: list[str], folder: Path, autoload: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=folder, env=_env(autoload), capture_output=True, text=True, timeout=120)
    if proc.returncode not in (0, 5):  # 5: no tests collected, as expected in an empty folder
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc


def _imported(importtime_log: str) -> dict[str, int]:
    """Module -> cumulative µs, from `-X importtime` output."""
    out = {}
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line[len("import time:"):].split("|")
            if cumulative.strip().isdigit():
                out[name.strip()] = int(cumulative.strip())
    return out


def run(quick: bool) -> Result:
    rounds = 2 if quick else 21
    result = Result("4. Plugin start-up: `pytest --collect-only` on an empty folder",
                    ["run", "median wall time"])
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        (folder / "pytest.ini").write_text("[pytest]\n")
        runs = {
            "-p dockerimages": lambda: _run(_command(folder, "dockerimages"), folder),
            "-p no:dockerimages": lambda: _run(_command(folder, "no:dockerimages"), folder),
            "-p pytest_dockerimages.plugin": lambda: _run(_command(folder, "pytest_dockerimages.plugin"), folder),
            "(autoload) plain": lambda: _run(_command(folder, None), folder, autoload=True),
            "(autoload) -p no:dockerimages": lambda: _run(_command(folder, "no:dockerimages"), folder, autoload=True),
        }
        for warm_up in runs.values():  # and bytecode caches written, as after any user's first run
            warm_up()
        samples = round_robin({name: (lambda fn=fn: one_round(fn, 1)) for name, fn in runs.items()}, rounds=rounds)
        with_plugin = _imported(_run(_command(folder, "dockerimages", "-X", "importtime"), folder).stderr)
        without = _imported(_run(_command(folder, "no:dockerimages", "-X", "importtime"), folder).stderr)
    times = {name: statistics.median(values) for name, values in samples.items()}

    def added_by_plugin(with_it: str, without: str) -> float:
        """Median of the per-round differences: each compares two runs made moments apart."""
        return statistics.median(a - b for a, b in zip(samples[with_it], samples[without], strict=True))

    extra = added_by_plugin("-p dockerimages", "-p no:dockerimages")
    for name, took in times.items():
        result.rows.append([f"`pytest {name} --collect-only`".replace("`pytest (autoload) plain", "autoload: `pytest")
                            .replace("`pytest (autoload)", "autoload: `pytest"), fmt_s(took)])
    by_module = added_by_plugin("-p pytest_dockerimages.plugin", "-p no:dockerimages")
    autoload = added_by_plugin("(autoload) plain", "(autoload) -p no:dockerimages")
    result.rows.append(["difference, `-p dockerimages` (the target)", fmt_s(extra)])
    result.rows.append(["difference, `-p pytest_dockerimages.plugin` (no entry-point lookup)", fmt_s(by_module)])
    result.rows.append(["difference with autoload (how the plugin is normally loaded)", fmt_s(autoload)])
    result.notes.append("`-p NAME` with autoload off makes pytest look NAME up among all installed "
                        "distributions' entry points before importing anything (pluggy "
                        "load_setuptools_entrypoints); naming the module skips that lookup, and with autoload on "
                        "pytest scans the entry points anyway, with or without this plugin")
    added = sorted(set(with_plugin) - set(without))
    top = sorted(((with_plugin[m], m) for m in added if "." not in m or m.startswith("pytest_dockerimages.")),
                 reverse=True)[:6]
    result.notes.append(f"modules loading the plugin adds ({len(added)}; pytest imports the plugin's own modules "
                        f"through its assertion rewriter, which -X importtime does not list): "
                        + ", ".join(f"{m} {us / 1000:.1f} ms" for us, m in top))
    probe = subprocess.run([sys.executable, "-c",
                            "import sys, pytest_dockerimages.plugin; print(' '.join(sys.modules))"],
                           env=_env(), capture_output=True, text=True, timeout=60, check=True)
    loaded = probe.stdout.split()
    heavy = sorted({m.split(".")[0] for m in loaded if m.split(".")[0] in HEAVY})
    ours = sorted(m for m in loaded if m.startswith("pytest_dockerimages"))
    result.notes.append(f"importing pytest_dockerimages.plugin loads {len(ours)} of our modules "
                        f"({', '.join(ours)}); heavy optional libraries among all loaded: {', '.join(heavy) or 'none'}")
    if heavy:
        raise AssertionError(f"the plugin imports {heavy} at start-up: these imports must be lazy")
    if not quick:
        result.checks.append(Check("start-up cost of the plugin", extra * 1000, 50.0, " ms"))
    return result
