"""Flow runs started in this process — by the command line, a benchmark or a test — rather
than by a worker running a deployment.

Prefect 3.9 sends a heartbeat for every flow run (`flows.heartbeat_frequency`, 180 s by
default) from a thread that sleeps in one-second steps, and joins that thread when the run
ends: every flow run, each subflow included, waits up to a second at its end
(`benchmarks/flow_overhead.py` measures it). Heartbeats serve to detect a crashed run of a
deployment; a run started here is watched by whoever started it, and ends with its process.
So local runs send none, and runs by a worker (prefect.yaml's deployments) keep Prefect's
setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def local_runs() -> Iterator[None]:
    """Flow runs inside this block send no heartbeats (Prefect's other settings unchanged)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
