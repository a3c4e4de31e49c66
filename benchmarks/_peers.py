"""Peer tools in their own virtual environments, so their pins never touch the project's environment.

A peer (datatrove, for instance) is installed once under `benchmarks/.venvs/<name>` (git-ignored) with the
standard library's `venv` and pip, and later runs reuse it. Work is handed to the peer as a script run by its
interpreter, and the peak memory of that whole process tree (the peer's forked workers included) is measured
by sampling it with psutil, since `ru_maxrss` of a parent never sees its children's pages.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import psutil

VENVS = Path(__file__).resolve().parent / ".venvs"


def peer_python(name: str, requirements: list[str]) -> Path:
    """The interpreter of the peer's environment, created and installed on first use."""
    env = VENVS / name
    python = env / "bin" / "python"
    marker = env / "installed.txt"
    wanted = "\n".join(requirements)
    if not python.exists() or not marker.exists() or marker.read_text() != wanted:
        print(f"  installing {' '.join(requirements)} into {env} ...", flush=True)
        venv.create(env, with_pip=True, clear=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
        marker.write_text(wanted)
    return python


def tree_rss(proc: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes (gone processes count zero)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_measured(cmd: list[str], interval: float = 0.05, **kwargs) -> tuple[float, int, str]:
    """Run a command; (wall seconds, peak resident bytes of its process tree, stdout). Its stdout goes to a
    temporary file, not a pipe: a pipe read only after the child exits fills at 64 KiB (a result of thousands
    of pairs is more) and blocks the child's last write forever."""
    t = time.perf_counter()
    with tempfile.TemporaryFile() as sink, subprocess.Popen(cmd, stdout=sink, **kwargs) as child:
        proc = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            peak = max(peak, tree_rss(proc))
            time.sleep(interval)
        sink.seek(0)
        out = sink.read().decode("utf-8", errors="replace")
        if child.returncode:
            raise subprocess.CalledProcessError(child.returncode, cmd, out)
    return time.perf_counter() - t, peak, out


if __name__ == "__main__":
    print(peer_python(sys.argv[1], sys.argv[2:]))
