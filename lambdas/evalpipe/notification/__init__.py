"""The one SNS notification that ends every run: subject, plain-text body and message attributes.

The input is the run item as read from DynamoDB (see docs/design.md, "Run item attributes"),
converted to plain Python types; numbers may still be `Decimal`. Everything here is pure: no
clients, no clock, so the same run item always renders the same text (the golden tests rely on
it).

The body is written for an e-mail client showing plain text: fixed-width tables aligned with
spaces, at most ~100 columns, no markdown. It never carries model responses; prompts appear only
as the excerpts the run item already holds, shortened further to one line.

A COMPLETED run reads, in order: the verdict, the run's identity (with its baseline run), the
metric table (average, baseline average, delta, N/A rate, threshold and the outcome against the
baseline when the run item holds a ``comparison``; a "No baseline" note otherwise), category
averages, the flagged records with the judge's reasons, the prompts that got worse since the
baseline, warnings (the run's and the comparison's N/A-rate warnings), then where to look: the
HTML report (``report_key``), the run record and the job output.

The code lives in focused modules and every public name is re-exported here, so
``from evalpipe.notification import build_notification`` is the import to use: ``message``
(`Notification`, `build_notification`), ``verdict`` (`derive_verdict`, `severity_of`),
``subject``, ``body`` (which blocks, in order), the body's sections ``identity``, ``scores``
(`metrics_table`), ``categories``, ``low_records``, ``changes`` (`record_changes`) and
``outcomes`` (failed, stopped, timed out, rejected, error, human job), and the helpers they share:
``run_item`` (tolerant readers of the run item, `comparison_of`), ``formatting`` and ``layout``.
"""

from evalpipe.notification.body import BODY_MAX_BYTES
from evalpipe.notification.categories import MAX_CATEGORY_ROWS
from evalpipe.notification.changes import MAX_NA_TRANSITIONS_SHOWN, MAX_RECORD_CHANGES_SHOWN, record_changes
from evalpipe.notification.layout import (
    BUILTIN_PREFIX,
    CATEGORY_LABEL_CHARS,
    PROMPT_EXCERPT_CHARS,
    TABLE_MAX_WIDTH,
    WRAP_WIDTH,
)
from evalpipe.notification.low_records import REASON_CHARS
from evalpipe.notification.message import Notification, build_notification
from evalpipe.notification.outcomes import MAX_PROBLEMS_SHOWN
from evalpipe.notification.run_item import comparison_of
from evalpipe.notification.scores import metrics_table
from evalpipe.notification.subject import (
    SHORT_RUN_ID_CHARS,
    SUBJECT_DETAIL_MAX,
    SUBJECT_MAX,
    SUBJECT_PREFIX,
    short_run_id,
)
from evalpipe.notification.verdict import derive_verdict, severity_of

__all__ = [
    "BODY_MAX_BYTES",
    "BUILTIN_PREFIX",
    "CATEGORY_LABEL_CHARS",
    "MAX_CATEGORY_ROWS",
    "MAX_NA_TRANSITIONS_SHOWN",
    "MAX_PROBLEMS_SHOWN",
    "MAX_RECORD_CHANGES_SHOWN",
    "PROMPT_EXCERPT_CHARS",
    "REASON_CHARS",
    "SHORT_RUN_ID_CHARS",
    "SUBJECT_DETAIL_MAX",
    "SUBJECT_MAX",
    "SUBJECT_PREFIX",
    "TABLE_MAX_WIDTH",
    "WRAP_WIDTH",
    "Notification",
    "build_notification",
    "comparison_of",
    "derive_verdict",
    "metrics_table",
    "record_changes",
    "severity_of",
    "short_run_id",
]
