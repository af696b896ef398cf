"""``make bench``: run the benchmarks, print their tables, and write them to ``benchmarks/RESULTS.md``.

Figures only mean something beside the machine and the code they came from, so the file carries
the benchmarks' output exactly as printed, the machine (CPUs, Python, platform, load average), the
date and the git commit, and nothing else: no prose to go stale. Each benchmark runs in a process
of its own, one after the other; its output is shown as it comes and kept for the file. When one
fails, the file is left as it was (a partial run is not a result) and the exit status says so.

``python -m benchmarks.results [--output PATH] [-- ARGS FOR benchmarks.load]``
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "RESULTS.md"


@dataclass(frozen=True)
class Run:
    """One benchmark's command line, its output as printed, and how long it took."""

    command: tuple[str, ...]
    output: str
    seconds: float


def run_teed(module: str, args: Sequence[str]) -> Run:
    """``python -m module args``: stdout shown line by line and kept; stderr (progress) only shown."""
    command = (sys.executable, "-m", module, *args)
    started = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:  # noqa: S603
        assert child.stdout is not None
        for line in child.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
    if child.returncode:
        raise SystemExit(f"python -m {module} failed (exit {child.returncode}); RESULTS.md not written")
    return Run(("python", "-m", module, *args), "".join(lines).rstrip("\n"), time.monotonic() - started)


def git(*args: str) -> str:
    return subprocess.run(  # noqa: S603 - git, fixed arguments
        ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def commit_line() -> str:
    """The commit measured, and whether tracked files differed from it (then the figures are not its)."""
    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"`{commit}`" + (" with uncommitted changes to tracked files" if dirty else "")


def render(runs: Sequence[Run], started: datetime, commit: str, load_average: float) -> str:
    """The whole file: where and when, then each benchmark's output verbatim."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks.results`); do not edit by hand. How each figure",
        "is measured: docs/performance.md.",
        "",
        f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- commit: {commit}",
        f"- machine: {os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.platform()}",
        f"- load average (1 min) at the start: {load_average:.1f}",
    ]
    for run in runs:
        lines += [
            "",
            f"## `{' '.join(run.command)}`",
            "",
            f"Took {run.seconds:.0f} s.",
            "",
            "```text",
            run.output,
            "```",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    load_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks.results", description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="default %(default)s")
    options = parser.parse_args(own)
    started, commit, load_average = datetime.now(UTC), commit_line(), os.getloadavg()[0]
    runs = [run_teed("benchmarks.login", []), run_teed("benchmarks.load", load_args)]
    options.output.write_text(render(runs, started, commit, load_average), encoding="utf-8")
    print(f"written: {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
