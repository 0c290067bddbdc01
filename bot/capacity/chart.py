"""The capacity chart: p99 latency against the SLO and serving replicas over the last hour, as PNG.

matplotlib with the Agg backend (no display); people read a chart faster than a table.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def render_chart(history: Sequence[tuple[float, float | None, int]], *, slo_s: float) -> bytes:
    """PNG bytes of (unix time, p99 seconds, replicas) samples."""
    times = [datetime.fromtimestamp(t, UTC) for t, _, _ in history]
    p99 = [None if v is None else v * 1000 for _, v, _ in history]
    replicas = [r for _, _, r in history]
    fig, latency_ax = plt.subplots(figsize=(6, 2.6), dpi=100)
    try:
        latency_ax.plot(times, [v if v is not None else float("nan") for v in p99], color="tab:red")
        latency_ax.axhline(slo_s * 1000, color="tab:red", linestyle="--", linewidth=1)
        latency_ax.set_ylabel("p99 ms")
        replica_ax = latency_ax.twinx()
        replica_ax.step(times, replicas, where="post", color="tab:blue")
        replica_ax.set_ylabel("replicas")
        replica_ax.set_ylim(0, max(replicas or [1]) + 1)
        fig.autofmt_xdate()
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)
