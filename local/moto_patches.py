"""Fixes to moto 5.2.1 internals that the local mode and the state machine tests need.

Each patch says why. `install()` is idempotent; `tests/integration/harness` checks the
internals still exist, so a moto upgrade that moves them fails loudly instead of silently.
(The Lambda runner's patches live in `local.inprocess_lambda`, the Bedrock routes in
`local.bedrock_emulator.moto_routes`; this module holds the rest.)
"""

from __future__ import annotations

import copy
from typing import Any

from moto.stepfunctions.models import StateMachineInstance

_installed = False


def _deepcopy_without_executions(self: Any, memo: dict[int, Any]) -> Any:
    # moto's ASL backend deep-copies the state machine at every StartExecution. Finished
    # executions hang off it and hold thread locks (their worker and environment), so the
    # second execution of a machine fails with "cannot pickle '_thread.RLock'". The clone
    # only needs the machine's definition and settings, never its past executions.
    cls = type(self)
    clone = cls.__new__(cls)
    memo[id(self)] = clone
    for name, value in self.__dict__.items():
        setattr(clone, name, [] if name == "executions" else copy.deepcopy(value, memo))
    return clone


def install() -> None:
    """Apply the patches (idempotent)."""
    global _installed  # noqa: PLW0603 - one process-wide switch, like moto's own backends
    if _installed:
        return
    StateMachineInstance.__deepcopy__ = _deepcopy_without_executions  # type: ignore[attr-defined]
    _installed = True


def installed() -> bool:
    return _installed
