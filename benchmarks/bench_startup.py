"""4. Plugin start-up: `pytest -p dockerimages --collect-only` on an empty folder vs `-p no:dockerimages`.

Both runs set PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 and name the plugin with -p, so the only
difference is this plugin. `python -X importtime` then lists what loading it imports: the heavy
optional libraries (vcrpy, jsonschema, the docker SDK, PyYAML, requests) must not be among them.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Check, Result, fmt_s, interleaved

HEAVY = ("vcr", "jsonschema", "docker", "yaml", "requests", "urllib3", "httpx", "fastjsonschema")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _command(folder: Path, plugin: str, *extra: str) -> list[str]:
    return [sys.executable, *extra, "-m", "pytest", "-p", plugin, "--collect-only", "-q", "-p", "no:cacheprovider",
            str(folder)]


def _run(cmd: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=folder, env=_env(), capture_output=True, text=True, timeout=120)
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
    rounds = 2 if quick else 15
    result = Result("4. Plugin start-up: `pytest --collect-only` on an empty folder",
                    ["run", "median wall time"])
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        (folder / "pytest.ini").write_text("[pytest]\n")
        times = interleaved({
            "-p dockerimages": lambda: _run(_command(folder, "dockerimages"), folder),
            "-p no:dockerimages": lambda: _run(_command(folder, "no:dockerimages"), folder),
        }, rounds=rounds)
        with_plugin = _imported(_run(_command(folder, "dockerimages", "-X", "importtime"), folder).stderr)
        without = _imported(_run(_command(folder, "no:dockerimages", "-X", "importtime"), folder).stderr)
    extra = times["-p dockerimages"] - times["-p no:dockerimages"]
    for name, took in times.items():
        result.rows.append([f"`pytest {name} --collect-only`", fmt_s(took)])
    result.rows.append(["difference", fmt_s(extra)])
    added = sorted(set(with_plugin) - set(without))
    heavy = [m for m in added if m.split(".")[0] in HEAVY]
    ours = [m for m in added if m.startswith("pytest_dockerimages")]
    top = sorted(((with_plugin[m], m) for m in added if "." not in m or m.startswith("pytest_dockerimages.")),
                 reverse=True)[:6]
    result.notes.append(f"modules the plugin adds: {len(added)} ({len(ours)} of its own: {', '.join(ours)})")
    result.notes.append("largest (cumulative import time, one run): "
                        + ", ".join(f"{m} {us / 1000:.1f} ms" for us, m in top))
    result.notes.append(f"heavy optional libraries imported at start-up: {', '.join(heavy) or 'none'}")
    if heavy:
        raise AssertionError(f"the plugin imports {heavy} at start-up: these imports must be lazy")
    if not quick:
        result.checks.append(Check("start-up cost of the plugin", extra * 1000, 50.0, " ms"))
    return result
