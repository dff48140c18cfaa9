"""The run and its records as the runs table stores them: docs/design.md's item schema, in code.

`Run` is the run summary item (``pk=RUN#<run_id>, sk=RUN``); `RecordItem` one record's scores
(``sk=REC#<index>``). Every step reads and changes a run through these models; only the table
adapter (`evalpipe.aws.runs_table`) sees the DynamoDB item, and it writes exactly the attributes a
step changed (`Run.changes`). Attributes this version does not know are kept (``extra="allow"``):
an item written by a newer or older version reads and writes back intact.

The nested shapes are the ones the steps build: `MetricSummary` and `LowRecord` (the parse step's
aggregate), `Comparison` with its `MetricComparison` and `RecordChange` entries (the review against
the baseline run), `ProblemItem` (validation), `ErrorInfo` (a pipeline error).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    model_validator,
)

from evalpipe.run.status import FAILURE_VERDICT, FINAL_STATUSES, RunStatus, Verdict
from evalpipe.run.timing import Timing
from evalpipe.run.triggers import (
    DatasetObject,
    RunRequest,
    RunTrigger,
    ScenariosObject,
    TriggerKind,
    iso,
    parse_time,
)
from evalpipe.suite.regression import DEFAULT_MIN_SCORED_RECORDS

if TYPE_CHECKING:
    from evalpipe.suite.document import Suite

UNCATEGORIZED = "uncategorized"
# An error message is kept to this many characters (a Lambda cause can be a long document).
MAX_ERROR_MESSAGE = 1000


def _parse_timestamp(value: object) -> object:
    return parse_time(value) if isinstance(value, str) else value


# Times of the run item: ISO-8601 UTC to the second (``2026-03-02T06:00:00+00:00``).
Timestamp = Annotated[datetime, BeforeValidator(_parse_timestamp), PlainSerializer(iso, return_type=str)]


class Item(BaseModel):
    """A part of a stored item: unknown attributes are kept, so nothing written is lost on a rewrite."""

    model_config = ConfigDict(extra="allow", defer_build=True)


class JobType(StrEnum):
    """The run item's ``job_type``: who rates the records (the submit step asks the suite)."""

    AUTOMATED = "Automated"
    HUMAN = "Human"


class ShardStatus(StrEnum):
    """Where one job of a run is (its Bedrock status once submitted, and the pipeline's own)."""

    PLANNED = "PLANNED"  # waiting for a slot
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # failed (twice, for a run of several shards: it is resubmitted once)
    STOPPED = "STOPPED"  # someone stopped (or deleted) the job
    TIMED_OUT = "TIMED_OUT"  # ran past its deadline; the pipeline stopped it


class FailedAttempt(Item):
    """An earlier job of a shard that failed (the shard was resubmitted)."""

    job_arn: str | None = None
    job_name: str | None = None
    failure_messages: list[str] = Field(default_factory=list)


class Shard(Item):
    """One evaluation job of a run: the whole dataset, or the slice ``first_line``..``last_line``.

    A dataset with more records than one job takes is split after validation (``shard_size``
    records each, in dataset order); every shard is its own job, under the account's job pool.
    """

    run_id: str
    number: int
    input_key: str | None = None
    first_line: int | None = None
    last_line: int | None = None
    records: int | None = None
    status: ShardStatus = ShardStatus.PLANNED
    attempt: int = 0
    job_arn: str | None = None
    job_name: str | None = None
    output_prefix: str | None = None
    submitted_at: Timestamp | None = None
    deadline: Timestamp | None = None
    finished_at: Timestamp | None = None
    failure_messages: list[str] = Field(default_factory=list)
    # At its deadline: True when the pipeline sent StopEvaluationJob, False when the job had ended.
    stop_sent: bool | None = None
    earlier_attempts: list[FailedAttempt] = Field(default_factory=list)

    @property
    def key(self) -> str:
        """The shard's key in the run's ``shards`` map (zero-padded: the map sorts by it)."""
        return shard_key(self.number)

    @property
    def lines(self) -> str:
        """``lines 1001-2000`` (or ``the dataset`` when the shard is all of it)."""
        if self.first_line is None or self.last_line is None:
            return "the dataset"
        return f"lines {self.first_line}-{self.last_line}"

    @property
    def holder(self) -> str:
        """Who holds this shard's slot in the job pool: ``<run_id>#<number>`` (`evalpipe.aws.slots`)."""
        return f"{self.run_id}#{self.number}"

    @property
    def label(self) -> str:
        """``shard 2 (lines 1001-2000)``, how messages name it."""
        return f"shard {self.number} ({self.lines})"

    def job_name_for(self, sharded: bool) -> str:
        """The job's name: the run id for a run of one job, ``<run_id>-s02`` for a shard, ``-r2`` on
        the resubmission (run ids are at most 55 characters: a name stays within the API's 63)."""
        name = f"{self.run_id}-s{self.number:02d}" if sharded else self.run_id
        return f"{name}-r{self.attempt}" if self.attempt > 1 else name

    def client_token(self, run_token: str, sharded: bool) -> str:
        """The job's idempotency token: the run's for a run of one job, else one per shard and attempt."""
        if not sharded and self.attempt <= 1:
            return run_token
        return hashlib.sha256(f"{run_token}#{self.number}#{self.attempt}".encode()).hexdigest()[:64]

    def results_prefix(self, run_prefix: str, sharded: bool) -> str:
        """Where the job writes: the run's results prefix, or its ``shard-0002/`` (``shard-0002-r2/``
        for the resubmission: a sibling, so listing one attempt never lists the other's files)."""
        if not sharded:
            return run_prefix
        return f"{run_prefix}shard-{self.key}" + (f"-r{self.attempt}/" if self.attempt > 1 else "/")


def shard_key(number: int) -> str:
    return f"{number:04d}"


def shard_input_key(run_input_prefix: str, number: int) -> str:
    """``inputs/<suite>/<run_id>/shard-0002.jsonl``: a shard's records, beside the run's copy."""
    return f"{run_input_prefix}shard-{shard_key(number)}.jsonl"


class ProblemItem(Item):
    """One validation problem as stored (`evalpipe.validation.Problem.as_dict`)."""

    severity: str
    file: str
    message: str
    line: int | None = None
    field: str | None = None


class ErrorInfo(Item):
    """Why the pipeline itself failed (``error``), or why the pipeline stopped a job.

    ``job_stopped`` says what became of a job still running when the pipeline failed: True when
    StopEvaluationJob was sent, False when the job had already ended, None when there was no job.
    """

    type: str
    message: str
    job_stopped: bool | None = None

    @classmethod
    def of_failure(cls, failure: dict[str, Any] | None, note: str = "") -> ErrorInfo:
        """From a Step Functions Catch's ``{Error, Cause}``: the Lambda error's name and message
        (its JSON cause without the stack trace), with ``note`` appended."""
        failure = failure or {}
        cause: object = failure.get("Cause")
        if isinstance(cause, str):
            try:
                parsed = json.loads(cause)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and "errorMessage" in parsed:
                cause = parsed["errorMessage"]
        message = str(cause or "no cause given")[:MAX_ERROR_MESSAGE] + note
        return cls(
            type=str(failure.get("Error") or "Unknown"), message=message[: MAX_ERROR_MESSAGE + len(note)]
        )


class StoredObject(Item):
    """An S3 object version: the immutable per-run copy of the dataset the job reads."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class CollectFailure(Item):
    """A scenario the collection could not turn into a record (left out of the dataset)."""

    scenario_id: str
    error: str


class Collection(Item):
    """How a run's dataset is collected from scenarios (the suite's ``pipeline.collect``).

    Validate plans it (``scenarios`` in ``batches`` of ``batch_size``, read from ``input_key``, the
    run's copy of the dropped file); each collect invocation writes its batch under ``prefix``;
    the assembly (Validate's ``collected`` entry) fills in the counts and the failures.
    """

    scenarios: int
    batch_size: int
    batches: int
    input_key: str
    prefix: str
    dataset_name: str
    collected: int | None = None
    records: int | None = None
    failed: int | None = None
    failures: list[CollectFailure] = Field(default_factory=list)

    def batch_key(self, number: int, suffix: str = ".jsonl") -> str:
        """``<prefix>batch-0003.jsonl`` (``.meta.jsonl``: its metadata lines)."""
        return f"{self.prefix}batch-{number:04d}{suffix}"


class UncoveredRecord(Item):
    """A dataset record without a result (``line``, ``turn`` for RAG), or a result without a record."""

    line: int | None = None
    turn: int | None = None
    index: int | None = None
    prompt_excerpt: str = ""


class HumanRatingSummary(Item):
    """A human metric's ratings for one model (for ComparisonLikertScale: one pair), as given.

    ``average`` of the values (thumbs 1/0, Likert 1..5, ranks, 1/0 chosen), ``distribution``
    value -> how many ratings, ``workers`` distinct workers who rated, ``ratings`` all ratings.
    """

    metric: str
    model: str | None = None
    method: str | None = None
    ratings: int = 0
    workers: int = 0
    average: float | None = None
    distribution: dict[str, int] = Field(default_factory=dict)


class ResultsUnreadable(Item):
    """Why a completed job's results could not be read (verdict UNREADABLE): the reason, and the
    first record no score could be read from (``file``, 1-based ``line``), with the count of such
    records. Those records are stored like every other (no scores)."""

    message: str
    file: str | None = None
    line: int | None = None
    unread_records: int = 0


class Coverage(Item):
    """Whether the results cover exactly the dataset (a custom dataset's records; RAG: its turns).

    ``missing`` and ``surplus`` list the first few of each; the counts are exact.
    """

    expected: int
    parsed: int
    missing_count: int = 0
    surplus_count: int = 0
    missing: list[UncoveredRecord] = Field(default_factory=list)
    surplus: list[UncoveredRecord] = Field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.missing_count == 0 and self.surplus_count == 0


class MetricSummary(Item):
    """Aggregate of one metric over a run; N/A scores are counted apart, never averaged."""

    metric: str = ""
    average: float | None
    scored: int
    na: int
    na_rate: float
    low_count: int
    min: float | None
    max: float | None
    rule: str


class LowRecord(Item):
    """One flagged score, as a notification lists it.

    `rule` is the metric's rule as text (``"< 0.5"``, ``"> 0.5"``); items written before it existed
    read back with ``""``.
    """

    index: int
    metric: str
    score: float
    category: str
    prompt_excerpt: str
    explanation: str | None
    rule: str = ""


class ChangeKind(StrEnum):
    """How a record's score of one metric changed since the baseline."""

    WORSENED = "WORSENED"  # scored in both runs, worse now
    BECAME_NA = "BECAME_NA"  # scored in the baseline, N/A now
    BECAME_SCORED = "BECAME_SCORED"  # N/A in the baseline, scored now


class RecordChange(Item):
    """One record x metric whose score changed for the worse (or to or from N/A).

    Attributes
    ----------
    kind
        A `ChangeKind` value.
    metric
        The metric as the record item names it.
    key
        The record key both runs share.
    index, baseline_index
        The record's index in this run and in the baseline run.
    category
        The record's category in this run.
    prompt_excerpt
        The prompt, shortened.
    score, baseline_score
        The scores (None = N/A).
    worsened_by
        For WORSENED: how much worse, always positive (for a lower-is-better metric the score
        rose by this much); None otherwise.
    explanation
        The judge's explanation of this run's score, shortened.
    occurrence
        0 for the first record with this key in the run, 1 for the second, ...
    """

    kind: str = ChangeKind.WORSENED.value
    metric: str = ""
    key: str = ""
    index: int | None = None
    baseline_index: int | None = None
    category: str = UNCATEGORIZED
    prompt_excerpt: str = ""
    score: float | None = None
    baseline_score: float | None = None
    worsened_by: float | None = None
    explanation: str | None = None
    occurrence: int = 0


class MetricStatus(StrEnum):
    """The outcome of one metric's comparison."""

    REGRESSED = "REGRESSED"
    OK = "OK"
    NOT_COMPARED = "NOT_COMPARED"
    # Bootstrap method: the interval reaches past the tolerance, but not wholly (a warning).
    POSSIBLE_REGRESSION = "POSSIBLE_REGRESSION"
    # Bootstrap method: the whole interval lies past the tolerance the better way.
    IMPROVED = "IMPROVED"


class UnmatchedRecord(Item):
    """A record (by key) that only one of two compared runs scored."""

    key: str = ""
    index: int | None = None
    prompt_excerpt: str = ""


class RunFacts(Item):
    """What makes two runs' scores comparable (``Run.facts``; `evalpipe.history.compare`).

    Attributes
    ----------
    judge
        The evaluator model (None: no judge, e.g. a classic or human job).
    task_types
        The ``taskType`` of each dataset metric config, in order.
    inference
        Where the responses come from: ``precomputed:<id>``, ``model:<id>``,
        ``knowledge-base:<id>@<model>``, or a hash of the inference config.
    metric_definitions
        metric -> hash of its definition (a custom metric's instructions and rating scale;
        ``builtin`` for Bedrock's own).
    """

    judge: str | None = None
    task_types: list[str] = Field(default_factory=list)
    inference: str | None = None
    metric_definitions: dict[str, str] = Field(default_factory=dict)


class MetricComparison(Item):
    """One metric of this run against the baseline run.

    Attributes
    ----------
    metric
        The metric name as the run item spells it.
    lower_is_better
        True when a higher average is the worse one (the metric's rule flags high scores).
    average, baseline_average
        The averages (None when the run lacks the metric or every score was N/A).
    delta
        ``average - baseline_average`` (signed, raw).
    relative_delta
        ``delta / |baseline_average|``; None when the baseline average is 0 or missing.
    drop, relative_drop
        ``delta`` and ``relative_delta`` turned so that positive = worse.
    scored, baseline_scored
        Scored (non-N/A) records in each run.
    na_rate, baseline_na_rate
        Share of N/A scores in each run (None when unknown).
    max_absolute_drop, max_relative_drop, min_scored_records
        The limits that applied (None = that check is off).
    status
        A `MetricStatus` value.
    regressed
        ``status == REGRESSED``.
    reason
        Why, in words (``"dropped by 0.150 (limit 0.1)"``, ``"too few scored records ..."``).
    na_warning
        The metric is N/A for more than the warning share of this run's records.
    """

    metric: str = ""
    lower_is_better: bool = False
    average: float | None = None
    baseline_average: float | None = None
    delta: float | None = None
    relative_delta: float | None = None
    drop: float | None = None
    relative_drop: float | None = None
    scored: int = 0
    baseline_scored: int = 0
    na_rate: float | None = None
    baseline_na_rate: float | None = None
    max_absolute_drop: float | None = None
    max_relative_drop: float | None = None
    min_scored_records: int = DEFAULT_MIN_SCORED_RECORDS
    status: str = MetricStatus.NOT_COMPARED.value
    regressed: bool = False
    reason: str = ""
    na_warning: bool = False
    # -- how sure the change is (issue 13; None/0 on items stored before it) --------------------
    # method: "bootstrap" or "threshold" (what judged the metric; the interval is shown either way).
    method: str | None = None
    # change = the mean paired difference (this run - baseline, raw sign), change_low/high its 95%
    # bootstrap interval; paired False: too few pairs, the two runs' scores were compared unpaired.
    change: float | None = None
    change_low: float | None = None
    change_high: float | None = None
    pairs: int = 0
    paired: bool = True
    only_in_run: int = 0
    only_in_baseline: int = 0
    # tolerance: the drop that matters, in the metric's units; min_detectable_drop: the smallest
    # true drop these records catch 4 times in 5 (the tolerance plus the noise of the comparison).
    tolerance: float | None = None
    min_detectable_drop: float | None = None


class Comparison(Item):
    """A run compared with its baseline; stored on the run item as ``comparison``.

    Attributes
    ----------
    run_id
        This run.
    baseline_run_id, baseline_created_at
        The baseline run, None when there is none.
    baseline_pinned
        The baseline is the suite's ``pipeline.regression.baselineRunId``.
    baseline_note
        Why there is no baseline, or how it was chosen, in words.
    min_scored_records
        The suite's ``minScoredRecords``.
    metrics
        One entry per metric: this run's metrics in order, then those only the baseline has.
    regressed
        Any metric regressed.
    warnings
        N/A-rate warnings and metrics that disappeared, in words.
    record_changes
        The worst record changes (WORSENED).
    na_transitions
        Record scores that became N/A or stopped being N/A.
    worsened_count, na_transition_count
        All of them, not just the stored ones.
    """

    run_id: str | None = None
    baseline_run_id: str | None = None
    baseline_created_at: str | None = None
    baseline_pinned: bool = False
    baseline_note: str = ""
    min_scored_records: int = DEFAULT_MIN_SCORED_RECORDS
    metrics: list[MetricComparison] = Field(default_factory=list)
    regressed: bool = False
    warnings: list[str] = Field(default_factory=list)
    record_changes: list[RecordChange] = Field(default_factory=list)
    na_transitions: list[RecordChange] = Field(default_factory=list)
    worsened_count: int = 0
    na_transition_count: int = 0
    # -- pairing and comparable baselines (issue 13; empty on items stored before it) -------------
    # Records (by key) scored in only one of the two runs: the first few, and how many in all.
    only_in_run: list[UnmatchedRecord] = Field(default_factory=list)
    only_in_baseline: list[UnmatchedRecord] = Field(default_factory=list)
    only_in_run_count: int = 0
    only_in_baseline_count: int = 0
    # Why earlier runs were passed over, or why metrics were not compared with the baseline
    # ("judge changed from X to Y: Builtin.Correctness not compared").
    comparability_notes: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _regressed_from_metrics(cls, data: Any) -> Any:
        # Items written before `regressed` existed: it is whether any metric regressed.
        if isinstance(data, dict) and "regressed" not in data and isinstance(data.get("metrics"), list):
            regressed = any(isinstance(m, dict) and m.get("regressed") for m in data["metrics"])
            data = {**data, "regressed": regressed}
        return data

    @property
    def regressed_metrics(self) -> list[MetricComparison]:
        """The metrics that regressed, in comparison order."""
        return [m for m in self.metrics if m.regressed]

    def metric(self, name: str) -> MetricComparison | None:
        """The comparison of one metric, or None."""
        return next((m for m in self.metrics if m.metric == name), None)

    def as_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Run(Item):
    """The run summary item.

    Change a run by assigning its attributes; `evalpipe.aws.runs_table.RunsTable.save` then
    writes exactly those (an attribute set to None is removed), so two steps never overwrite
    each other's attributes with stale copies.

    Examples
    --------
    >>> run = Run(run_id="s-20260302-060000-1a2b3c4d", suite="s", status=RunStatus.VALIDATING,
    ...           created_at="2026-03-02T06:00:00+00:00")
    >>> run.status = RunStatus.REJECTED
    >>> run.changes()
    {'status': 'REJECTED'}
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True, defer_build=True)

    run_id: str
    suite: str
    status: RunStatus
    created_at: Timestamp
    updated_at: Timestamp | None = None
    verdict: Verdict | None = None
    # What started the run: `dataset` for a dropped object, else a run request (schedule, cli).
    trigger: TriggerKind | None = None
    dataset: DatasetObject | None = None
    request: RunRequest | None = None
    client_token: str | None = None
    # The copy of the dropped version that validation read and the job reads (a later upload to the
    # same key cannot change what this run evaluates).
    input_dataset: StoredObject | None = None
    # Runs of dropped scenarios: how the dataset is collected, and what came of it.
    collection: Collection | None = None
    # Validation: the suite as validated (JSON text), what was wrong, what it will cost.
    suite_document: str | None = None
    problems: list[ProblemItem] = Field(default_factory=list)
    problem_count: int | None = None
    warnings: list[ProblemItem] = Field(default_factory=list)
    warning_count: int | None = None
    estimate: dict[str, Any] | None = None
    # The job.
    job_name: str | None = None
    job_arn: str | None = None
    job_type: JobType | None = None
    job_status: str | None = None
    timing: Timing | None = None
    submitted_at: Timestamp | None = None
    deadline: Timestamp | None = None
    polled_at: Timestamp | None = None
    job_finished_at: Timestamp | None = None
    failure_messages: list[str] = Field(default_factory=list)
    # The run's jobs: one per shard of the dataset (one for a dataset a job takes whole).
    shards: dict[str, Shard] = Field(default_factory=dict)
    # The results.
    # Human jobs: the ratings as given, per metric and model (issue 12; absent on older items).
    human_ratings: list[HumanRatingSummary] = Field(default_factory=list)
    # Verdict UNREADABLE: what could not be read.
    unreadable: ResultsUnreadable | None = None
    record_count: int | None = None
    output_files: int | None = None
    coverage: Coverage | None = None
    metrics: dict[str, MetricSummary] = Field(default_factory=dict)
    categories: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    datasets: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    low_records: list[LowRecord] = Field(default_factory=list)
    comparison: Comparison | None = None
    report_key: str | None = None
    # What the comparison with later runs checks (judge, metric definitions, task, inference);
    # runs stored before it have none and are read from their suite_document (issue 13).
    facts: RunFacts | None = None
    # The end.
    error: ErrorInfo | None = None
    finished_at: Timestamp | None = None
    notification_id: str | None = None
    notified_at: Timestamp | None = None

    _changed: set[str] = PrivateAttr(default_factory=set)

    @classmethod
    def claimed_by(cls, trigger: RunTrigger, now: datetime, status: RunStatus = RunStatus.VALIDATING) -> Run:
        """The item that claims the run of ``trigger`` (its id, suite and token derive from it)."""
        run = cls(
            run_id=trigger.run_id,
            suite=trigger.suite,
            status=status,
            created_at=now,
            trigger=trigger.kind,
            client_token=trigger.client_request_token,
        )
        if isinstance(trigger, RunRequest):
            run.request = trigger
        else:
            run.dataset = trigger
        return run

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in type(self).model_fields:
            self._changed.add(name)

    # -- storage --------------------------------------------------------------------------------

    def changes(self) -> dict[str, Any]:
        """The attributes assigned since the run was read or saved, as stored (None = remove)."""
        dumped = self.model_dump(mode="json", include=self._changed)
        return {name: dumped.get(name) for name in sorted(self._changed)}

    def to_item(self) -> dict[str, Any]:
        """The attributes this run was built with (or assigned), as stored: what a new item holds."""
        given = self.model_fields_set | self._changed | set(self.model_extra or {})
        dumped = self.model_dump(mode="json", include=given)
        return {k: v for k, v in dumped.items() if v is not None}

    def saved(self) -> Run:
        """This run with nothing left to write (the adapter calls it once the item is written)."""
        self._changed.clear()
        return self

    # -- what the steps ask ---------------------------------------------------------------------

    def started_by(self) -> RunTrigger:
        """What started the run: its dropped dataset object or its run request.

        Raises
        ------
        LookupError
            The item records neither (an item this pipeline did not write).
        """
        if self.request is not None:
            return self.request
        if self.dataset is not None and self.trigger is TriggerKind.SCENARIOS:
            return ScenariosObject.model_validate(self.dataset.model_dump())
        if self.dataset is not None:
            return self.dataset
        raise LookupError(f"run {self.run_id} records neither a dataset nor a run request")

    def validated_suite(self) -> Suite:
        """The suite exactly as it was validated for this run (a later upload does not change it).

        Raises
        ------
        LookupError
            The run was never validated (no ``suite_document``).
        """
        from evalpipe.suite.document import Suite  # noqa: PLC0415 -- the suite package imports run

        if self.suite_document is None:
            raise LookupError(f"run {self.run_id} holds no validated suite (suite_document)")
        return Suite.from_document(self.suite, json.loads(self.suite_document))

    def shard(self, number: int) -> Shard:
        """A copy of shard ``number`` (1-based), to change and write with ``RunsTable.save_shard``
        (shards run in parallel: the run's ``shards`` map is never written whole after validation).
        A run validated before shards existed has one implicit shard."""
        found = self.shards.get(shard_key(number))
        if found is not None:
            return found.model_copy(deep=True)
        if number == 1 and not self.shards:
            key = self.input_dataset.key if self.input_dataset else None
            return Shard(run_id=self.run_id, number=1, input_key=key)
        raise LookupError(f"run {self.run_id} has no shard {number}")

    def all_shards(self) -> list[Shard]:
        """Every shard in dataset order (the one implicit shard of a run validated before shards)."""
        return [self.shards[key] for key in sorted(self.shards)] or [self.shard(1)]

    @property
    def sharded(self) -> bool:
        """More than one job: names, prefixes and messages then say which shard."""
        return len(self.shards) > 1

    @property
    def is_human(self) -> bool:
        """A human evaluation job (the submit step records what the suite says)."""
        return self.job_type is JobType.HUMAN

    @property
    def low_count(self) -> int:
        """Every flagged score of the run (record x metric), not only the listed ones."""
        by_metric = sum(m.low_count for m in self.metrics.values())
        return by_metric or len(self.low_records)

    @property
    def bucket(self) -> str | None:
        """The product bucket: the dropped dataset's, else the one a run request recorded."""
        if self.dataset is not None:
            return self.dataset.bucket
        return self.request.bucket if self.request is not None else None

    @property
    def finished(self) -> bool:
        """The run ended: COMPLETED or one of the failure statuses (a verdict can be derived)."""
        return self.status in FINAL_STATUSES

    @property
    def settled(self) -> bool:
        """Nothing about the run changes any more.

        A failure status is final at once; a COMPLETED run once the parse step has reviewed it
        against its baseline (``report_key`` / ``comparison``) or it was notified.
        """
        if self.status in FAILURE_VERDICT:
            return True
        reviewed = bool(self.report_key or self.comparison or self.notified_at)
        return self.status is RunStatus.COMPLETED and reviewed

    def final_verdict(self) -> Verdict:
        """The verdict the notification leads with.

        A failure status always wins over a stored verdict (a run that was parsed and then hit a
        pipeline error is an ERROR). A COMPLETED run uses its verdict, or its low-score count when
        it has none. Any other status means the notify step was reached too early: ERROR.
        """
        if self.status in FAILURE_VERDICT:
            return FAILURE_VERDICT[self.status]
        if self.status is RunStatus.COMPLETED:
            if self.verdict is not None:
                return self.verdict
            return Verdict.LOW_SCORES if self.low_count > 0 else Verdict.PASSED
        return self.verdict or Verdict.ERROR


class ScoreItem(Item):
    """One metric's score of a record (None = N/A) and the judge's explanation."""

    score: float | None = None
    explanation: str | None = None


class RecordItem(Item):
    """One record's scores (``sk=REC#<index:05d>``); RAG runs store one per conversation turn."""

    index: int
    category: str = UNCATEGORIZED
    prompt_hash: str | None = None
    record_key: str | None = None
    prompt_excerpt: str = ""
    response_excerpt: str | None = None
    scores: dict[str, ScoreItem] = Field(default_factory=dict)
    conversation: int | None = None
    turn: int | None = None
    dataset: str | None = None
    task_type: str | None = None
