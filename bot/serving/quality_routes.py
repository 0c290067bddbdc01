"""`GET /v1/quality` on the model server: what the quality gate is doing right now.

The bot's quality monitor and `/iris quality` read it: the version's contract, the policies in
force (as the server last polled them), the window's checks and the latest problem rows.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.serving.quality_gate import QualityGate


def quality_state(gate: QualityGate) -> dict[str, Any]:
    """The gate's state as plain JSON values."""
    view = gate.views.get(gate.serving) if gate.serving is not None else None
    return {
        "version": gate.serving,
        "contract_source": view.contract.source if view else None,
        "contract": {f.name: asdict(f) for f in view.contract.features} if view else {},
        "policies": {
            name: {"policy": policy, "fallback_version": fallback}
            for name, (policy, fallback) in sorted(gate.policies.items())
        },
        "fallbacks_loaded": sorted(v for v, w in gate.views.items() if w.model is not None),
        "window": gate.metrics.window_state(),
        "samples": list(gate.samples),
    }


def quality_route() -> Route:
    """The route; it finds the gate on the app's state (set by create_model_app)."""

    async def endpoint(request: Request) -> Response:
        gate = request.app.state.quality
        if gate is None:
            return Response(
                json.dumps({"error": "quality gate off"}), 404, media_type="application/json"
            )
        # In a thread: the window check runs pandera (milliseconds), requests keep flowing.
        state = await asyncio.to_thread(quality_state, gate)
        return Response(json.dumps(state), media_type="application/json")

    return Route("/v1/quality", endpoint, methods=["GET"])
