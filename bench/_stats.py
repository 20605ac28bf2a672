"""What every bench shares: the spread of repeated rounds, wrk, and how busy the machine was.

A ratio measured once says nothing about its noise, so each bench runs several rounds, takes one
ratio per round (turnout and its baseline measured side by side in that round), and prints the
median with the min–max of the rounds beside it. wrk is the load generator wherever a ceiling is
measured: a Python client would hold the ceiling down (it did: 23k req/s where wrk gets 45k+).
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path


def spread(xs: list[float], fmt: str = "{:.2f}", unit: str = "") -> str:
    """`median (min–max, n rounds)`, e.g. `0.51x (0.47–0.55, 5 rounds)`."""
    if not xs:
        return "-"
    med, lo, hi = statistics.median(xs), min(xs), max(xs)
    if len(xs) == 1:
        return f"{fmt.format(med)}{unit} (1 round)"
    return f"{fmt.format(med)}{unit} ({fmt.format(lo)}–{fmt.format(hi)}, {len(xs)} rounds)"


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def load_average() -> str:
    """The 1/5/15-minute load averages, printed before and after so a reader sees how quiet the
    machine was (2 cores: anything above ~0.5 means someone else was working)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


@dataclass
class WrkResult:
    rps: float
    errors: int  # non-2xx responses + socket errors
    command: str  # as a reader would type it (scripts by file name)


def wrk_command(url: str, seconds: float, threads: int = 1, connections: int = 32,
                script: Path | None = None) -> list[str]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    if script is not None:
        cmd += ["-s", str(script)]
    return [*cmd, url]


def parse_wrk(out: str, cmd: list[str]) -> WrkResult:
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    for kind in re.findall(r"Socket errors: (.*)", out):
        bad += sum(int(x) for x in re.findall(r"\d+", kind))
    shown = " ".join(Path(c).name if c.endswith(".lua") else c for c in cmd)
    return WrkResult(float(m.group(1)) if m else 0.0, bad, shown)


def wrk(url: str, seconds: float, threads: int = 1, connections: int = 32,
        script: Path | None = None) -> WrkResult:
    cmd = wrk_command(url, seconds, threads, connections, script)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    return parse_wrk(out, cmd)


class WrkBeside:
    """wrk running in the background while something else is timed; `stop()` interrupts it
    (SIGINT: wrk stops and reports the requests/s of the time it actually ran)."""

    def __init__(self, url: str, max_seconds: float, threads: int = 1,
                 connections: int = 32) -> None:
        self.cmd = wrk_command(url, max_seconds, threads, connections)
        self.max_seconds = max_seconds
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)

    def stop(self) -> WrkResult:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=self.max_seconds + 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return parse_wrk(out or "", self.cmd)
