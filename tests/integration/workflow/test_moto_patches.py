"""The moto internals `local.moto_patches` relies on: fail loudly when a moto upgrade moves them."""

from __future__ import annotations

import copy
import inspect

from moto.stepfunctions.models import StateMachineInstance
from moto.stepfunctions.parser import models as parser_models

from local import moto_patches


def test_the_asl_backend_still_deep_copies_the_machine_at_start_execution():
    # Why the patch exists: StartExecution clones the machine, executions and all.
    source = inspect.getsource(parser_models.StepFunctionsParserBackend.start_execution)
    assert "copy.deepcopy(state_machine)" in source


def test_a_patched_clone_keeps_the_definition_and_drops_past_executions():
    # Given a machine with a past execution that cannot be copied (it holds a lock, as moto's do)
    moto_patches.install()
    machine = StateMachineInstance.__new__(StateMachineInstance)
    machine.definition = '{"StartAt": "A"}'
    machine.executions = [inspect]  # a module object: deepcopy would refuse it
    # When cloned
    clone = copy.deepcopy(machine)
    # Then the definition is copied and the executions are not
    assert clone.definition == machine.definition
    assert clone.executions == []
    assert machine.executions == [inspect]
