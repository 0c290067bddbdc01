"""wrk, the load generator every HTTP benchmark here uses: finding (or installing) it, and
reading its `--latency` report. A Python client saturates before the servers do on 2 cores."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


class WrkUnavailable(Exception):
    """wrk is missing and could not be installed."""


def ensure_wrk() -> str:
    """Path to wrk; installs Debian's package when running as root."""
    path = shutil.which("wrk")
    if path:
        return path
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise WrkUnavailable("wrk is not installed: run `apt-get install wrk` as root")
    print("wrk not found: installing it with apt-get ...", flush=True)
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise WrkUnavailable(f"could not install wrk with apt-get ({exc})") from None
    path = shutil.which("wrk")
    if not path:
        raise WrkUnavailable("apt-get ran but wrk is still not on PATH")
    return path


@dataclass(frozen=True)
class WrkReport:
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    requests: int
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def latency_ms(text: str, percentile: str) -> float | None:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
    return float(match.group(1)) * _UNITS_MS[match.group(2)] if match else None


def parse_report(text: str) -> WrkReport:
    """The figures of one `wrk --latency` run; ValueError when the text is not wrk's report."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if rps is None:
        raise ValueError(f"could not read wrk's output:\n{text}")
    total = re.search(r"^\s*(\d+) requests in", text, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return WrkReport(
        rps=float(rps.group(1)),
        p50_ms=latency_ms(text, "50"),
        p99_ms=latency_ms(text, "99"),
        requests=int(total.group(1)) if total else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
    )
