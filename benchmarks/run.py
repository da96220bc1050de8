"""Run every benchmark: `python benchmarks/run.py [--quick] [--only NAME ...] [--markdown FILE]`.

Each `bench_*.py` module here has `run(quick) -> Result`. Full mode measures the sizes and
rounds the targets are stated for and prints each target as MET / NOT MET; `--quick` runs
every benchmark with tiny sizes in a few seconds and checks nothing about time (CI runs it, so
the benchmarks keep working). `--strict` exits 1 when a target is not met.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Result, machine  # noqa: E402

BENCHMARKS = ["bench_real", "bench_scale", "bench_pertest", "bench_startup", "bench_replay", "bench_schema",
              "bench_vcrpy", "bench_requests"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds, no time targets")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME",
                        help="run only these (e.g. scale replay; the bench_ prefix is optional)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the results as Markdown to FILE")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args(argv)
    chosen = BENCHMARKS
    if args.only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in args.only}
        unknown = wanted - set(BENCHMARKS)
        if unknown:
            parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: {BENCHMARKS}")
        chosen = [n for n in BENCHMARKS if n in wanted]
    facts = machine()
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    print(f"# {command}\n# machine: nproc {facts['nproc']}, {facts['cpu']}, "
          f"{facts['implementation']} {facts['python']}\n", flush=True)
    results: list[Result] = []
    failed: list[str] = []
    for name in chosen:
        t0 = time.perf_counter()
        try:
            result = importlib.import_module(name).run(args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        results.append(result)
        print(result.markdown(), flush=True)
        print(f"({name}: {time.perf_counter() - t0:.1f} s)\n", flush=True)
    if args.markdown:
        text = [f"Command: `{command}`", "",
                f"Machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['implementation']} {facts['python']}", ""]
        text += [r.markdown() for r in results]
        Path(args.markdown).write_text("\n".join(text))
    missed = [c for r in results for c in r.checks if not c.met]
    if not args.quick:
        print(f"targets: {sum(len(r.checks) for r in results) - len(missed)} met, {len(missed)} not met")
        for check in missed:
            print(f"  NOT MET: {check.line()}")
    if failed:
        print(f"benchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
