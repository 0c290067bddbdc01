"""Training as Ray tasks when the serving engine is `ray`: the retrain's CPU-bound fit runs on the
Ray cluster, not beside the bot and its model server on the bot's machine.

`RayTaskPool` stands where the process pool stands (`RetrainDeps.pool`): its executor submits the
same picklable call as a Ray task and hands back the task's future. Ray is imported and the
driver connected on the first fit only.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

from bot.process_pool import ProcessPool

ADDRESS_FILE = "ray-address"  # written in the data dir by `serve-model --engine ray`


def cluster_address(configured: str | None, data_dir: Path) -> str | None:
    """RAY_ADDRESS, else the address of the local Ray `serve-model --engine ray` started."""
    if configured:
        return configured
    path = data_dir / ADDRESS_FILE
    return path.read_text().strip() if path.exists() else None


class RayExecutor(Executor):
    def __init__(self, address: Callable[[], str | None]) -> None:
        self._address = address
        self._connected = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        import ray  # seconds to import; only a fit needs it

        if not self._connected:
            address = self._address()
            if address is None:
                raise RuntimeError("no Ray cluster: set RAY_ADDRESS or start the ray engine")
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
            self._connected = True
        return ray.remote(num_cpus=1)(fn).remote(*args, **kwargs).future()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._connected:
            import ray

            ray.shutdown()
            self._connected = False


class RayTaskPool(ProcessPool):
    """The retrain pool of a bot whose serving engine is Ray."""

    def __init__(self, *, address: str | None, data_dir: Path) -> None:
        super().__init__(1)
        self._ray = RayExecutor(lambda: cluster_address(address, data_dir))

    def executor(self) -> Executor:
        return self._ray

    def shutdown(self) -> None:
        self._ray.shutdown()
