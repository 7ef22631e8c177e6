"""Fault points: the stage boundaries of ingest and registration, where a test kills the run.

With `SABISCORE_FAULT_AT=<stage>` in the environment, `fault_point(<stage>)` kills its own
process with SIGKILL: no handler, no `finally`, no buffered write runs — what the OOM killer, a
`kill -9` or a lost container does between two steps. Unset (always, outside the tests), a call
is one dictionary lookup. `tests/flows/test_fault_injection.py` kills a real `sabiscore ingest`
and `sabiscore pipeline` at each stage and checks the store and the registry a reader sees.

The stages, in the order a run passes them, and what is on disk when the run dies there:

ingest (`flows/ingest.py`, `sabiscore/store.py`)
    ``ingest.raw_stored``          every file's bytes kept under ``raw/``; nothing committed
    ``ingest.validated``           parsed and validated, in memory only
    ``ingest.parts_written``       the new part files written, the manifest not yet replaced
    ``ingest.manifest_committed``  the new manifest in place (the commit point is passed),
                                   replaced part files not yet removed

registration (`flows/train.py`, `models/registry.py`, `tasks/registry.py`)
    ``train.run_logged``           the training run in MLflow; no model logged
    ``register.model_logged``      the ensemble's files logged in the run; no version
    ``register.version_created``   a version, tagged pending; no decision
    ``register.decided``           the gate's decision in the version's tags; no alias moved
    ``register.alias_moved``       `champion` (or `challenger`) moved to the version (the commit
                                   point is passed), the pending tag not yet removed
"""

from __future__ import annotations

import os
import signal
from enum import StrEnum

ENV_VAR = "SABISCORE_FAULT_AT"


class Stage(StrEnum):
    RAW_STORED = "ingest.raw_stored"
    VALIDATED = "ingest.validated"
    PARTS_WRITTEN = "ingest.parts_written"
    MANIFEST_COMMITTED = "ingest.manifest_committed"
    RUN_LOGGED = "train.run_logged"
    MODEL_LOGGED = "register.model_logged"
    VERSION_CREATED = "register.version_created"
    DECIDED = "register.decided"
    ALIAS_MOVED = "register.alias_moved"


def fault_point(stage: Stage) -> None:
    """Die here, at once and uncatchably, when `$SABISCORE_FAULT_AT` names this stage."""
    if os.environ.get(ENV_VAR) == stage:
        os.kill(os.getpid(), signal.SIGKILL)
