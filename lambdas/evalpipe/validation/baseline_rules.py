"""The pinned baseline (``pipeline.regression.baselineRunId``) must be comparable with the suite.

A run is compared with its pinned baseline whatever else changed; a pinned run judged by another
model, with another definition of a metric, another task type or another inference source would
then give every run a comparison that means nothing. So validation rejects the suite instead
(docs/suite-file.md, "Regressions"). The rule needs the pinned run from the runs table: the
validate step and `evalpipe gate` look it up and pass it in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.history.compare import differences, facts_of, run_facts
from evalpipe.validation.problems import Problem, Severity

if TYPE_CHECKING:
    from collections.abc import Iterator

    from evalpipe.run.model import Run
    from evalpipe.suite import Suite

FIELD = "pipeline.regression.baselineRunId"


def check_pinned_baseline(suite: Suite, pinned: Run | None, file: str) -> Iterator[Problem]:
    """Yield an error when the pinned run exists but its scores do not compare with this suite's.

    Parameters
    ----------
    suite
        The validated suite.
    pinned
        The run ``baselineRunId`` names, as the runs table returns it (None: not found; the
        comparison then says so, as before).
    file
        How the problem names the suite file.
    """
    if pinned is None:
        return
    changed = differences(run_facts(suite), facts_of(pinned), suite.listed_metric_names)
    if not changed:
        return
    reasons = "; ".join(dict.fromkeys(changed.values()))
    yield Problem(
        Severity.ERROR,
        file,
        f"the pinned baseline {pinned.run_id} is not comparable with this suite ({reasons}; "
        f"metrics {', '.join(changed)}): pin a run made with the current settings, or remove "
        "baselineRunId to compare with the newest comparable run",
        field=FIELD,
    )
