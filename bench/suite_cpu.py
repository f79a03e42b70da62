"""Where the test suite's CPU goes: runs pytest with the given arguments and samples every process under it,
adding up each one's CPU time by what it is (a pytest worker, a studio, a localsora, Chromium's parts, ...).

    .venv/bin/python bench/suite_cpu.py -- -m e2e      # the browser tier
    .venv/bin/python bench/suite_cpu.py                  # the whole suite

A process that lives less than one sampling interval (0.2 s) is missed; the total of the whole tree, from the
kernel's account of reaped children, is printed beside the sampled sum so the gap shows.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def kind_of(process: psutil.Process) -> str:
    """A short name for what the process is, from its command line."""
    try:
        words = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return "gone"
    line = " ".join(words)
    if "chrom" in line:
        for part in ("--type=renderer", "--type=gpu-process", "--type=utility", "--type=zygote"):
            if part in line:
                return "chromium " + part.removeprefix("--type=")
        return "chromium browser"
    if "streamlit" in line:
        return "studio (streamlit)"
    if "localsora" in line:
        return "localsora"
    if "litellm" in line:
        return "litellm proxy"
    if "playwright" in line or "node" in (words[0] if words else ""):
        return "playwright driver"
    if "pytest" in line or "xdist" in line or "execnet" in line or "-c" in words:
        return "pytest"
    return Path(words[0]).name if words else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pytest_args", nargs="*", help="what to pass to pytest (after --)")
    args = parser.parse_args()
    started = time.monotonic()
    suite = subprocess.Popen([sys.executable, "-m", "pytest", "-q", *args.pytest_args], cwd=ROOT)
    root = psutil.Process(suite.pid)
    last_seen: dict[int, tuple[str, float]] = {}  # pid -> (kind, its latest CPU time)
    while suite.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for process in tree:
            try:
                times = process.cpu_times()
                cpu = times.user + times.system  # its own; a reaped child's is counted under the child
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            kind = last_seen[process.pid][0] if process.pid in last_seen else kind_of(process)
            last_seen[process.pid] = (kind, cpu)
        time.sleep(0.2)
    wall = time.monotonic() - started
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    by_kind: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for kind, cpu in last_seen.values():
        by_kind[kind] += cpu
        counts[kind] += 1
    sampled = sum(by_kind.values())
    print(f"\npytest exit {suite.returncode}; wall {wall:.0f} s")
    print(f"CPU of the whole tree (kernel): {reaped.ru_utime + reaped.ru_stime:.0f} s; sampled: {sampled:.0f} s")
    print(f"{'what':28} {'processes':>9} {'CPU s':>8} {'share':>6}")
    for kind, cpu in sorted(by_kind.items(), key=lambda item: -item[1]):
        print(f"{kind:28} {counts[kind]:9d} {cpu:8.0f} {cpu / max(sampled, 1e-9):6.0%}")
    return suite.returncode


if __name__ == "__main__":
    sys.exit(main())
