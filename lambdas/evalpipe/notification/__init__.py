"""The one SNS notification that ends every run: subject, plain-text body and message attributes.

The input is the finished `evalpipe.run.model.Run`; its verdict is `Run.final_verdict` (a failure
status wins over a stored verdict) and its severity `evalpipe.run.status.severity_of`. Everything
here is pure: no clients, no clock, so the same run always renders the same text (the golden tests
rely on it).

The body is written for an e-mail client showing plain text: fixed-width tables aligned with
spaces, at most ~100 columns, no markdown. It never carries model responses; prompts appear only
as the excerpts the run already holds, shortened further to one line.

A COMPLETED run reads, in order: the verdict, the run's identity (with its baseline run), the
metric table (average, baseline average, delta, N/A rate, threshold and the outcome against the
baseline when the run holds a ``comparison``; a "No baseline" note otherwise), category averages,
the flagged records with the judge's reasons, the prompts that got worse since the baseline,
warnings (the run's and the comparison's N/A-rate warnings), then where to look: the HTML report
(``report_key``), the run record and the job output.

Modules:

- ``message``: `Notification`, `build_notification`, the subject and `short_run_id`;
- ``body``: the body, block by block (headline, identity, outcome, warnings, where to look);
- ``tables``: the blocks ``evalpipe compare`` and ``evalpipe show`` print too: `metrics_table`,
  `categories_table`, `low_records`, `record_changes`;
- ``text``: plain-text layout and how numbers and rules read.

Only the names used outside the package are re-exported here.
"""

from evalpipe.notification.message import (
    SUBJECT_MAX,
    SUBJECT_PREFIX,
    Notification,
    build_notification,
    short_run_id,
)
from evalpipe.notification.tables import metrics_table, record_changes

__all__ = [
    "SUBJECT_MAX",
    "SUBJECT_PREFIX",
    "Notification",
    "build_notification",
    "metrics_table",
    "record_changes",
    "short_run_id",
]
