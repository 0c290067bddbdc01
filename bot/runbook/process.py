"""Driver ids that name their process, so a process on the same machine can tell it is dead.

A driver id is `<random>-<machine>-<pid>-<start>`: `machine` identifies the kernel's process-id
space (boot id, pid namespace and host name), `start` is the process's start time in clock ticks
since boot. Another process with the same `machine` looks the pid up in /proc: no such process, a
zombie, or a process started at another time (the pid was reused) means the driver is dead for
certain. Anything it cannot check (another machine or container, no /proc) counts as alive, and
its lease is taken over only once stale: a wrong "dead" would let two engines drive one run.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from pathlib import Path
from uuid import uuid4

PROC = Path("/proc")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc/<pid>/stat, or None if there is none."""
    raw = _read(PROC / str(pid) / "stat")
    if raw is None:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = raw.rsplit(")", 1)[-1].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


@functools.cache
def machine() -> str | None:
    """Who shares our pid space: same boot, same pid namespace, same host; None without /proc."""
    boot = _read(PROC / "sys" / "kernel" / "random" / "boot_id")
    try:
        namespace = os.readlink(PROC / "self" / "ns" / "pid")
    except OSError:
        return None
    if boot is None:
        return None
    seed = f"{boot}|{namespace}|{socket.gethostname()}".encode()
    return hashlib.sha256(seed).hexdigest()[:10]


def driver_id() -> str:
    """A fresh driver id for an engine in this process."""
    token = uuid4().hex[:8]
    here, me = machine(), _stat(os.getpid())
    if here is None or me is None:
        return token + uuid4().hex[:4]  # uncheckable: only its heartbeat tells
    return f"{token}-{here}-{os.getpid()}-{me[1]}"


def is_dead(driver: str) -> bool:
    """True only when `driver` names a process of this machine that no longer runs."""
    parts = driver.split("-")
    if len(parts) != 4 or parts[1] != machine() or not parts[2].isdigit():
        return False
    stat = _stat(int(parts[2]))
    if stat is None:
        return True
    state, started = stat
    return state in ("Z", "X") or started != parts[3]
