"""A run's collection in the pipeline: the scenarios it reads, its batches, and their assembly.

Validate plans a collecting run: it copies the scenarios file under the run's inputs, reads the copy
(`read_scenarios`) and records the plan on the run (`plan`: ``batchSize`` scenarios a batch). The
collect step plays one batch (`batch_of`) and writes it under the collection's prefix. Validate's
``collected`` entry joins the batches in scenario order (`assemble`), records what came of them
(`Assembled.recorded_on`) and turns each failed scenario into a warning (`failure_warnings`), or
rejects the run when none was collected (`nothing_collected`). docs/collect.md, "In the pipeline".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalpipe.aws.objects import ObjectTooLarge
from evalpipe.collect.errors import InputError
from evalpipe.collect.scenarios import MAX_SCENARIOS_BYTES, load_scenarios
from evalpipe.run.model import CollectFailure, Collection
from evalpipe.validation import Problem, Severity

if TYPE_CHECKING:
    from evalpipe.aws.objects import Objects
    from evalpipe.collect.scenarios import Scenario
    from evalpipe.run.model import StoredObject

# One collected batch (100 scenarios, a record per turn at most) stays far below this.
MAX_BATCH_BYTES = 50_000_000


def read_scenarios(objects: Objects, copy: StoredObject, named: str) -> tuple[list[Scenario], list[Problem]]:
    """The scenarios of the run's copy, or the problems that stop the run (naming ``named``, the
    key the user knows, and the field)."""
    try:
        data = objects.read_bytes(copy.key, version_id=copy.version_id, max_bytes=MAX_SCENARIOS_BYTES)
        return load_scenarios(data, named), []
    except ObjectTooLarge:
        return [], [
            Problem(Severity.ERROR, named, f"scenarios file is larger than {MAX_SCENARIOS_BYTES} bytes")
        ]
    except InputError as exc:
        if exc.whole_file:  # not JSON, not UTF-8: no field to name, the line when known
            return [], [Problem(Severity.ERROR, named, problem, line=exc.line) for problem in exc.problems]
        problems = []
        for problem in exc.problems:
            where, _, message = problem.partition(": ")
            problems.append(
                Problem(Severity.ERROR, named, message or where, field=where if message else None)
            )
        return [], problems


def plan(scenarios: int, batch_size: int, *, input_key: str, prefix: str, dataset_name: str) -> Collection:
    """The collection of ``scenarios`` scenarios in batches of ``batch_size`` (the last one shorter).

    Examples
    --------
    >>> collection = plan(7, 5, input_key="inputs/s/r/collected/chat.scenarios.json",
    ...                   prefix="inputs/s/r/collected/", dataset_name="chat")
    >>> collection.batches, collection.batch_key(2)
    (2, 'inputs/s/r/collected/batch-0002.jsonl')
    """
    return Collection(
        scenarios=scenarios,
        batch_size=batch_size,
        batches=-(-scenarios // batch_size),
        input_key=input_key,
        prefix=prefix,
        dataset_name=dataset_name,
    )


def batch_of(scenarios: list[Scenario], collection: Collection, batch: int) -> list[Scenario]:
    """The scenarios of batch ``batch`` (1-based), in file order."""
    start = (batch - 1) * collection.batch_size
    return scenarios[start : start + collection.batch_size]


@dataclass(frozen=True)
class Assembled:
    """The batches joined: the dataset's bytes, and the scenarios that failed (from the metadata)."""

    data: bytes
    failures: list[CollectFailure]

    @property
    def records(self) -> int:
        return self.data.count(b"\n")

    def recorded_on(self, collection: Collection, listed: int) -> Collection:
        """``collection`` with the counts, and the first ``listed`` failures."""
        return collection.model_copy(
            update={
                "collected": collection.scenarios - len(self.failures),
                "records": self.records,
                "failed": len(self.failures),
                "failures": self.failures[:listed],
            }
        )


def assemble(collection: Collection, objects: Objects) -> Assembled:
    """The batches' lines in scenario order, and the scenarios that failed (from their metadata)."""
    parts: list[bytes] = []
    failures: list[CollectFailure] = []
    for number in range(1, collection.batches + 1):
        parts.append(objects.read_bytes(collection.batch_key(number), max_bytes=MAX_BATCH_BYTES))
        meta = objects.read_bytes(collection.batch_key(number, ".meta.jsonl"), max_bytes=MAX_BATCH_BYTES)
        for line in meta.splitlines():
            entry = json.loads(line)
            if entry.get("status") == "failed":
                failures.append(
                    CollectFailure(scenario_id=str(entry.get("scenarioId")), error=str(entry.get("error")))
                )
    return Assembled(b"".join(parts), failures)


def failure_warnings(failures: list[CollectFailure], where: str) -> list[Problem]:
    """One warning per scenario that was not collected, naming it and why."""
    return [
        Problem(Severity.WARNING, where, f"scenario {failure.scenario_id} was not collected: {failure.error}")
        for failure in failures
    ]


def nothing_collected(failures: list[CollectFailure], where: str, listed: int) -> Problem:
    """Why a run of which no scenario was collected is rejected (the warnings say why each failed)."""
    failed = ", ".join(failure.scenario_id for failure in failures[:listed])
    more = f" and {len(failures) - listed} more" if len(failures) > listed else ""
    return Problem(
        Severity.ERROR,
        where,
        f"no scenario was collected, so there is nothing to evaluate (failed: {failed}{more}); the "
        "warnings say why",
    )
