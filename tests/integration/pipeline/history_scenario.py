"""Runs parsed through the real steps, for the history tests: a baseline and a regressed run.

The suite compares metrics scored on a single record (``minScoredRecords: 1``) so three records
are enough to regress.
"""

from __future__ import annotations

import copy

from evalpipe.steps.parse import parse
from evalpipe.steps.validate import validate

from .conftest import RECORDS, SUITE
from .test_steps import output_line, submitted, write_outputs

REGRESSION_SUITE = copy.deepcopy(SUITE)
REGRESSION_SUITE["pipeline"]["regression"] = {"minScoredRecords": 1}

H, C, CC = "Builtin.Helpfulness", "Builtin.Correctness", "confirmation_check"
BASELINE_SCORES = [
    {H: 1.0, C: 1.0, CC: 1.0},
    {H: 1.0, C: 1.0, CC: None},
    {H: 0.75, C: 1.0, CC: 1.0},
]
# Helpfulness 0.917 -> 0.583 and confirmation_check 1.0 -> 0.0 regress; Correctness stays within
# the limits (1.0 -> 0.917); record 2's confirmation_check becomes N/A.
REGRESSED_SCORES = [
    {H: 0.25, C: 1.0, CC: 0.0},
    {H: 1.0, C: 0.75, CC: None},
    {H: 0.5, C: 1.0, CC: None},
]


def parsed_run(ports, bedrock, bucket, put, dropped, scores: list[dict]) -> str:
    """Upload the dataset (a new version), validate, submit, write the job's output, parse."""
    event = dropped(suite=REGRESSION_SUITE)
    run_id = submitted(ports, bedrock, bucket, event)
    write_outputs(put, run_id, [output_line(RECORDS[i], s) for i, s in enumerate(scores)])
    parse(run_id, ports)
    return run_id


def baseline_and_regressed(ports, bedrock, bucket, put, dropped, clock) -> tuple[str, str]:
    """Two runs of suite ``smoke`` an hour apart; the second regressed against the first."""
    baseline = parsed_run(ports, bedrock, bucket, put, dropped, BASELINE_SCORES)
    clock.advance(3600)
    current = parsed_run(ports, bedrock, bucket, put, dropped, REGRESSED_SCORES)
    return baseline, current


def rejected_run_of_another_suite(ports, dropped, clock) -> str:
    """A run of suite ``other`` (no suite file: REJECTED)."""
    clock.advance(60)
    return validate(dropped(suite=None, key="datasets/other/x.jsonl"), ports)["run_id"]
