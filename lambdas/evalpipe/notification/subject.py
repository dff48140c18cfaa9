"""The SNS subject, ``[evalpipe] <suite>: <VERDICT> - <detail>`` in ASCII on one line within SNS's
limit (a long suite name is shortened first, then the detail gives way), and `short_run_id`, the
time-and-hash tail of a run id that the subject and the CLI show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from evalpipe.notification.formatting import _plural
from evalpipe.notification.layout import _ascii_one_line
from evalpipe.notification.run_item import _int, _low_count, _mapping, _problem_count, _request, _text
from evalpipe.run.triggers import Verdict

if TYPE_CHECKING:
    from evalpipe.history.compare import Comparison


SUBJECT_PREFIX = "[evalpipe] "
# SNS: "less than 100 characters", no line breaks or control characters. 99 satisfies both
# that wording and the "<= 100" of the older documentation.
SUBJECT_MAX = 99
# The part after the verdict ("2 metrics regressed vs 20250228-091500-1a2b3c4d" is 47).
SUBJECT_DETAIL_MAX = 56

# `<suite-slug>-<YYYYMMDD-HHMMSS>-<hash8>`: the tail identifies a run within its suite.
_RUN_ID_TAIL = re.compile(r"(\d{8}-\d{6}-[0-9a-f]{8})$")
SHORT_RUN_ID_CHARS = 24


def short_run_id(run_id: str | None) -> str:
    """A run id shortened for a subject: its time and hash (``20250228-091500-1a2b3c4d``).

    The suite slug in front is left out (the subject names the suite); an id of another shape
    keeps its last `SHORT_RUN_ID_CHARS` characters.

    Examples
    --------
    >>> short_run_id("support-bot-20250228-091500-1a2b3c4d")
    '20250228-091500-1a2b3c4d'
    """
    text = _text(run_id)
    match = _RUN_ID_TAIL.search(text)
    if match:
        return match.group(1)
    return text if len(text) <= SHORT_RUN_ID_CHARS else "..." + text[-(SHORT_RUN_ID_CHARS - 3) :]


def _subject(suite: str, verdict: str, run: Mapping, comparison: Comparison | None) -> str:
    detail = _ascii_one_line(_subject_detail(verdict, run, comparison))[:SUBJECT_DETAIL_MAX].rstrip()
    tail = f": {_ascii_one_line(verdict)[:20]}" + (f" - {detail}" if detail else "")
    budget = SUBJECT_MAX - len(SUBJECT_PREFIX) - len(tail)
    name = _ascii_one_line(suite) or "unknown"
    if len(name) > budget:
        # Keep at least a recognisable stem; the detail gives way below if still too long.
        name = name[: max(budget, 12) - 3].rstrip() + "..."
    return (SUBJECT_PREFIX + name + tail)[:SUBJECT_MAX].rstrip()


def _subject_detail(verdict: str, run: Mapping, comparison: Comparison | None) -> str:
    records = _int(run.get("record_count"))
    match verdict:
        case Verdict.PASSED:
            return f"{_plural(records, 'record')}, no low scores"
        case Verdict.LOW_SCORES:
            return f"{_plural(_low_count(run), 'low score')} in {_plural(records, 'record')}"
        case Verdict.REGRESSED:
            count = len(comparison.regressed_metrics) if comparison is not None else 0
            baseline = comparison.baseline_run_id if comparison is not None else None
            against = f" vs {short_run_id(baseline)}" if baseline else ""
            return (f"{_plural(count, 'metric')} regressed" if count else "metrics regressed") + against
        case Verdict.FAILED:
            return "job failed"
        case Verdict.STOPPED:
            return "job stopped"
        case Verdict.TIMED_OUT:
            return "job timed out"
        case Verdict.REJECTED:
            what = "run" if _request(run) else "dataset"
            return f"{what} rejected ({_plural(_problem_count(run), 'problem')})"
        case Verdict.ERROR:
            error_type = _text(_mapping(run.get("error")).get("type"))
            return f"pipeline error ({error_type})" if error_type else "pipeline error"
    return ""
