"""Pure parts of capacity: burn rates over windows, the scale command's words, the autoscaler,
the merge of worker metrics, and the Ray engine's in-place config edit against a real HTTP API."""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.capacity.burn import PAGE, TICKET, BurnTracker, Slo, replicas_for
from bot.capacity.service import CapacityRefused
from bot.monitoring.checks import ServingCounters
from bot.servers import ServerTask
from bot.serving.admission import Autoscale, Autoscaler
from bot.serving.capacity_metrics import merge_worker_metrics
from bot.slack.handlers.capacity import parse_scale


def counters(total: float, good: float) -> ServingCounters:
    return ServingCounters(total, 0.0, ((0.1, good), (float("inf"), total)))


def test_page_needs_both_windows_and_enough_requests() -> None:
    tracker = BurnTracker(Slo(0.1, 0.99), scale=1.0, min_requests=100)
    tracker.add(counters(0, 0), now=0)
    tracker.add(counters(1000, 1000), now=3000)  # fine for 50 minutes
    tracker.add(counters(1300, 1000), now=3600)  # then every request slow for 10 minutes
    report = tracker.report()
    one_hour = report.windows[0]
    # 300 bad of 1300 in the hour: 23 % = 23× the 1 % budget; the last 5 min all bad: 100×.
    assert one_hour.long_burn == pytest.approx((300 / 1300) / 0.01)
    assert one_hour.firing and report.firing(PAGE)
    assert report.firing(TICKET)
    tracker.add(counters(1900, 1600), now=3900)  # the last 5 minutes are fine again
    assert not tracker.report().windows[0].firing  # the short window stops the page


def test_a_quiet_window_does_not_page() -> None:
    tracker = BurnTracker(Slo(0.1, 0.99), min_requests=100)
    tracker.add(counters(0, 0), now=0)
    tracker.add(counters(50, 0), now=600)  # every request slow, but only 50 of them
    assert not tracker.report().firing(PAGE)


def test_replicas_for_the_load() -> None:
    assert replicas_for(7, target=2, current=1, cap=4) == 4
    assert replicas_for(0, target=2, current=1, cap=4) == 2  # at least one more
    assert replicas_for(100, target=2, current=1, cap=3) == 3  # never over the cap


@pytest.mark.parametrize(
    ("words", "kind"),
    [("lots", "not_a_number"), ("", "not_a_number"), ("2 --for soon", "bad_duration")],
)
def test_scale_words_that_are_refused(words: str, kind: str) -> None:
    with pytest.raises(CapacityRefused) as caught:
        parse_scale(words.split())
    assert caught.value.kind == kind


def test_scale_words() -> None:
    change = parse_scale(["3", "--for", "2h"])
    assert (change.mode, change.replicas, change.for_seconds) == ("manual", 3, 7200)
    auto = parse_scale(["auto", "min=2", "max=4", "target=3"])
    assert auto.policy is not None and auto.policy.max_replicas == 4
    assert parse_scale(["manual"]).mode == "keep"


def test_autoscaler_waits_its_delays() -> None:
    scaler = Autoscaler(Autoscale(1, 4, 2.0, upscale_delay_s=3, downscale_delay_s=30))
    assert scaler.desired(load=20, current=1, now=0) == 1  # just went up: wait the delay
    assert scaler.desired(load=20, current=1, now=4) > 1
    assert scaler.desired(load=0, current=3, now=5) >= 3  # smoothed: the burst still counts
    for t in range(6, 60):
        last = scaler.desired(load=0, current=3, now=t)
    assert last == 1


def test_worker_metrics_are_summed_and_front_families_left_out() -> None:
    worker = (
        "# HELP model_server_predictions Predicted records by class.\n"
        "# TYPE model_server_predictions counter\n"
        'model_server_predictions_total{class="setosa"} 3.0\n'
        "# HELP model_server_requests HTTP requests.\n"
        "# TYPE model_server_requests counter\n"
        'model_server_requests_total{endpoint="predict",status="200"} 3.0\n'
    )
    merged = merge_worker_metrics([worker, worker])
    assert 'model_server_predictions_total{class="setosa"} 6.0' in merged
    assert "model_server_requests" not in merged


async def test_ray_engine_sends_every_other_application_back_unchanged() -> None:
    from bot.capacity.ray_engine import RayServeEngine

    other = {"name": "other", "route_prefix": "/other", "import_path": "x:app"}
    ours = {
        "name": "iris",
        "route_prefix": "/",
        "import_path": "bot.serving.ray_app:app",
        "deployments": [{"name": "ModelServer", "num_replicas": 1}],
    }
    state = {"apps": [other, ours]}
    puts: list[dict] = []

    def details() -> dict:
        apps = {}
        for app in state["apps"]:
            dep = (app.get("deployments") or [{}])[0]
            apps[app["name"]] = {
                "deployed_app_config": app,
                "deployments": {
                    "ModelServer": {
                        "target_num_replicas": dep.get("num_replicas", 1),
                        "deployment_config": dep,
                        "replicas": [{"state": "RUNNING"}] * int(dep.get("num_replicas", 1)),
                    }
                },
            }
        return {"applications": apps}

    async def api(request: Request) -> JSONResponse:
        if request.method == "PUT":
            body = json.loads(await request.body())
            puts.append(body)
            state["apps"] = body["applications"]
        return JSONResponse(details())

    server = ServerTask(
        Starlette(routes=[Route("/api/serve/applications/", api, methods=["GET", "PUT"])]),
        host="127.0.0.1",
        port=0,
    )
    await server.start()
    engine = RayServeEngine(f"http://127.0.0.1:{server.port}")
    try:
        status = await engine.scale(2)
        assert status.wanted == 2 and status.running == 2
        assert puts[-1]["applications"][0] == other  # untouched
        from bot.capacity.engine import AutoscalePolicy

        status = await engine.autoscale(AutoscalePolicy(1, 3, 2.0))
        mine = puts[-1]["applications"][1]["deployments"][0]
        assert mine["autoscaling_config"]["max_replicas"] == 3 and "num_replicas" not in mine
        assert status.mode == "auto"
    finally:
        await engine.aclose()
        await server.stop()
    unreachable = await RayServeEngine("http://127.0.0.1:9").status()
    assert not unreachable.reachable and "unreachable" in (unreachable.problem or "")
