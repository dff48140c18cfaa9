"""The "Prompts that got worse" block: the scores that dropped since the baseline run, worst first,
then the scores that became N/A or stopped being N/A (`record_changes`; ``evalpipe compare``
prints it too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.notification.formatting import _fmt_delta, _fmt_score, _plural
from evalpipe.notification.layout import CATEGORY_LABEL_CHARS, PROMPT_EXCERPT_CHARS, _one_line

if TYPE_CHECKING:
    from evalpipe.history.compare import Comparison
    from evalpipe.history.records import RecordChange


# Record changes against the baseline listed in the body (the run item stores up to 20).
MAX_RECORD_CHANGES_SHOWN = 10
MAX_NA_TRANSITIONS_SHOWN = 5


def record_changes(
    comparison: Comparison | None,
    limit: int = MAX_RECORD_CHANGES_SHOWN,
    *,
    na_limit: int = MAX_NA_TRANSITIONS_SHOWN,
    more_hint: str = "`evalpipe compare` or the report lists them.",
) -> list[str]:
    """The "Prompts that got worse" block: worse scores since the baseline, then N/A transitions.

    One entry per record x metric: ``[metric] 1.00 -> 0.25 (-0.75) | "prompt excerpt"`` and the
    record number and category below it. Empty without a baseline.

    Parameters
    ----------
    comparison : Comparison or None
        The run's comparison (``record_changes`` worst first, ``worsened_count`` all of them).
    limit, na_limit : int
        How many worsened scores, and how many N/A transitions, to list.
    more_hint : str
        Where to find the ones not listed.
    """
    if comparison is None or not comparison.baseline_run_id:
        return []
    worsened = comparison.record_changes
    total = max(comparison.worsened_count, len(worsened))
    shown = worsened[: max(limit, 0)]
    if not total:
        lines = ["No prompt scored worse than in the baseline run."]
    elif total > len(shown):
        lines = [f"Prompts that got worse (worst {len(shown)} of {_plural(total, 'score')} that dropped)"]
    else:
        records = _plural(len({(c.index, c.key) for c in shown}), "record")
        lines = [f"Prompts that got worse ({_plural(total, 'score')} in {records}, worst first)"]
    for change in shown:
        lines.append("")
        lines.append(_change_line(change))
        lines.append(f"  ({_change_where(change)})")
    if total > len(shown):
        lines += ["", f"  ... and {total - len(shown)} more: {more_hint}"]
    transitions = comparison.na_transitions
    count = max(comparison.na_transition_count, len(transitions))
    if count:
        lines += ["", f"Scores that became N/A or stopped being N/A ({count})"]
        listed = transitions[: max(na_limit, 0)]
        for change in listed:
            excerpt = _one_line(change.prompt_excerpt, PROMPT_EXCERPT_CHARS // 2)
            lines.append(
                f"  [{_one_line(change.metric, 63)}] {_fmt_score(change.baseline_score, 2)} -> "
                f'{_fmt_score(change.score, 2)} | "{excerpt}" ({_change_where(change)})'
            )
        if count > len(listed):
            lines.append(f"  ... and {count - len(listed)} more")
    return lines


def _change_line(change: RecordChange) -> str:
    metric = _one_line(change.metric, 63) or "?"
    excerpt = _one_line(change.prompt_excerpt, PROMPT_EXCERPT_CHARS)
    delta = (
        change.score - change.baseline_score
        if change.score is not None and change.baseline_score is not None
        else None
    )
    # A worse score that is higher belongs to a lower-is-better metric (a detector).
    direction = ", lower is better" if delta is not None and delta > 0 else ""
    return (
        f"[{metric}] {_fmt_score(change.baseline_score, 2)} -> {_fmt_score(change.score, 2)} "
        f'({_fmt_delta(delta, 2)}{direction}) | "{excerpt}"'
    )


def _change_where(change: RecordChange) -> str:
    where = []
    if change.index is not None:
        record = f"record #{change.index}"
        if change.baseline_index is not None and change.baseline_index != change.index:
            record += f", #{change.baseline_index} in the baseline"
        where.append(record)
    category = _one_line(change.category, CATEGORY_LABEL_CHARS)
    if category:
        where.append(f"category {category}")
    return ", ".join(where)
