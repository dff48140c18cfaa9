"""The flagged-records block: the worst flagged scores the run item keeps, each with the rule that
flagged it, the prompt excerpt, the judge's reason and where the record is.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from evalpipe.notification.formatting import _fmt_rule, _fmt_score, _plural
from evalpipe.notification.layout import CATEGORY_LABEL_CHARS, PROMPT_EXCERPT_CHARS, WRAP_WIDTH, _one_line
from evalpipe.notification.run_item import _int, _low_count, _mapping, _sequence, _text

REASON_CHARS = 300


def _low_records(run: Mapping) -> list[str]:
    """The flagged scores, in the stored order (worst first by their rule, see evalpipe.results.aggregate).

    A flagged score is not always a low one: detectors such as Builtin.Harmfulness flag high
    scores, so each line shows the rule that flagged it.
    """
    records = [_mapping(r) for r in _sequence(run.get("low_records"))]
    total = _low_count(run)
    if not records:
        if total:
            return [f"Flagged records: {_plural(total, 'flagged score')}; none listed in the run record."]
        return ["No score was flagged by its metric's threshold."]
    if total > len(records):
        lines = [f"Flagged records (worst {len(records)} of {_plural(total, 'flagged score')})"]
    else:
        lines = [f"Flagged records ({len(records)}, worst first)"]
    metrics = _mapping(run.get("metrics"))
    for record in records:
        metric_name = _text(record.get("metric"))
        metric = _one_line(metric_name, 63) or "?"
        excerpt = _one_line(_text(record.get("prompt_excerpt")), PROMPT_EXCERPT_CHARS)
        # Run items written before low records carried their rule: use the metric's.
        rule = record.get("rule") or _mapping(metrics.get(metric_name)).get("rule")
        flagged = f" (flagged: {_fmt_rule(rule)})" if rule else ""
        lines.append("")
        lines.append(f'[{metric}] score={_fmt_score(record.get("score"), 2)}{flagged} | "{excerpt}"')
        reason = _one_line(_text(record.get("explanation")), REASON_CHARS)
        if reason:
            lines.extend(
                textwrap.wrap(
                    reason,
                    width=WRAP_WIDTH,
                    initial_indent="  Reason: ",
                    subsequent_indent=" " * len("  Reason: "),
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
        where = []
        if record.get("index") is not None:
            where.append(f"record #{_int(record.get('index'))}")
        category = _one_line(_text(record.get("category")), CATEGORY_LABEL_CHARS)
        if category:
            where.append(f"category {category}")
        if where:
            lines.append(f"  ({', '.join(where)})")
    return lines
