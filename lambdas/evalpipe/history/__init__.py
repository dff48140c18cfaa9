"""Run history: regressions against a baseline run, per-record changes, and the HTML run report.

- `evalpipe.history.keys`: `record_key` -- which record of one run is the same in another.
- `evalpipe.history.records`: `compare_records` -- which prompts got worse, by how much.
- `evalpipe.history.compare`: `choose_baseline`, `compare_runs`, `verdict`, `na_rate_warnings`.
- `evalpipe.history.report`: `render_report` -- one self-contained HTML page per run.

Everything is pure: inputs are run and record items as `evalpipe.aws.runs_table` returns them.
See docs/suite-file.md ("Regressions") for the rules.
"""

from evalpipe.history.compare import (
    NA_RATE_WARNING,
    REGRESSED,
    REGRESSED_SEVERITY,
    Comparison,
    MetricComparison,
    MetricStatus,
    choose_baseline,
    compare_runs,
    find_baseline,
    na_rate_warnings,
    verdict,
)
from evalpipe.history.keys import explicit_id_of, key_of_item, key_of_record, record_key
from evalpipe.history.records import ChangeKind, RecordChange, compare_records, split_changes
from evalpipe.history.report import render_report

__all__ = [
    "NA_RATE_WARNING",
    "REGRESSED",
    "REGRESSED_SEVERITY",
    "ChangeKind",
    "Comparison",
    "MetricComparison",
    "MetricStatus",
    "RecordChange",
    "choose_baseline",
    "compare_records",
    "compare_runs",
    "explicit_id_of",
    "find_baseline",
    "key_of_item",
    "key_of_record",
    "na_rate_warnings",
    "record_key",
    "render_report",
    "split_changes",
    "verdict",
]
