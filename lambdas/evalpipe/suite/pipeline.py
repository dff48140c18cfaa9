"""The ``pipeline`` section of a suite file, this product's own settings beside the
CreateEvaluationJob members: `PipelineSettings` (job description and tags) with its notification,
schedule (EventBridge Scheduler) and polling blocks and their bounds; the low-score and regression
blocks it holds are models of their own modules (`evalpipe.suite.low_score`,
`evalpipe.suite.regression`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evalpipe.collect.conversation import TAG_NAME
from evalpipe.collect.targets import HeaderFromEnv, HttpTarget, TargetConfig
from evalpipe.run.timing import STATE_MACHINE_TIMEOUT_SECONDS, STOP_MARGIN_SECONDS
from evalpipe.suite.keys import _check_keys
from evalpipe.suite.low_score import LowScoreSettings
from evalpipe.suite.regression import RegressionSettings
from evalpipe.suite.schedule_expression import EXAMPLES as SCHEDULE_EXAMPLES
from evalpipe.suite.schedule_expression import check_expression, check_timezone

# Prompts one evaluation job takes (the service's limit); larger datasets are sharded.
MAX_JOB_RECORDS = 1000

# The pipeline puts these two tags on every job; the API allows 200 tags in all.
SUITE_TAG_KEY = "evalpipe:suite"
RUN_ID_TAG_KEY = "evalpipe:run-id"
MAX_SUITE_TAGS = 198
AWS_TAG_PREFIX = "aws:"  # reserved by AWS in any letter case
# The reserved keys again, for the JSON Schema (ECMA regex has no case-insensitive flag).
RESERVED_TAG_KEY_PATTERN = "^(evalpipe:suite|evalpipe:run-id)$|^[Aa][Ww][Ss]:"
TAG_KEY_PATTERN = r"^[a-zA-Z0-9\s._:/=+@-]{1,128}$"  # the service model's TagKey


class NotificationSettings(BaseModel):
    """What a notification lists."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    max_low_records: int = Field(
        default=10,
        ge=0,
        le=50,
        alias="maxLowRecords",
        description="How many flagged (low) scores a notification lists, worst first.",
    )


# EventBridge Scheduler's flexible time window: at most 1440 minutes (FlexibleTimeWindow).
MAX_FLEXIBLE_WINDOW_MINUTES = 1440


class ScheduleSettings(BaseModel):
    """When the suite runs on its own: an EventBridge Scheduler schedule of the deployment.

    Only for suites that name nothing but built-in datasets (there is nothing to drop). The
    SyncSchedules function creates, updates or deletes the schedule ``<suite>`` in the stack's
    schedule group whenever ``suites/<suite>.json`` is uploaded or deleted (docs/suite-file.md).

    Examples
    --------
    >>> ScheduleSettings.model_validate({"expression": "rate(7 days)"}).timezone
    'UTC'
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    expression: str = Field(
        description=(
            "EventBridge Scheduler schedule expression: rate(value unit) with minute(s), hour(s) or "
            "day(s); cron(minutes hours day-of-month month day-of-week year) with '?' in one of the "
            f"two day fields; or at(yyyy-mm-ddThh:mm:ss) for one run. E.g. {SCHEDULE_EXAMPLES}."
        ),
        examples=["rate(7 days)", "cron(0 6 ? * MON *)"],
    )
    timezone: str = Field(
        default="UTC",
        description="IANA time zone the cron and at expressions are read in (e.g. 'Europe/Paris').",
    )
    enabled: bool = Field(
        default=True,
        strict=True,  # "yes" or 1 is a typo here, not a switch
        description="false keeps the schedule but pauses it (the schedule's State is DISABLED).",
    )
    flexible_window_minutes: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_FLEXIBLE_WINDOW_MINUTES,
        alias="flexibleWindowMinutes",
        description=(
            "Let the scheduler start the run up to this many minutes after the scheduled time "
            "(spreads load); left out, runs start at the scheduled time."
        ),
    )

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        problem = check_expression(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        problem = check_timezone(value)
        if problem:
            raise ValueError(problem)
        return value


# pipeline.polling bounds: a poll interval as the deployment's (pollIntervalSeconds), timeouts that
# fit the state machine's (evalpipe.run.timing checks them with the deployment's values at validation).
MAX_POLL_INTERVAL_SECONDS = 3_600
MAX_TIMEOUT_SECONDS = STATE_MACHINE_TIMEOUT_SECONDS - STOP_MARGIN_SECONDS


class PollingSettings(BaseModel):
    """This suite's polling schedule and deadlines, overriding the deployment's for its runs.

    Each key left out keeps the deployment's value (``pollIntervalSeconds``, ``jobTimeoutSeconds``,
    ``humanPollMinSeconds``, ``humanPollMaxSeconds``, ``humanJobTimeoutSeconds``). The validate
    step checks the combination against the state machine's 35-day timeout (`evalpipe.run.timing`).

    Examples
    --------
    >>> PollingSettings.model_validate({"intervalSeconds": 300}).model_dump(by_alias=True, exclude_none=True)
    {'intervalSeconds': 300}
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    interval_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_POLL_INTERVAL_SECONDS,
        alias="intervalSeconds",
        description="Seconds between polls of an automated job (the deployment's pollIntervalSeconds).",
    )
    job_timeout_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=60,
        le=MAX_TIMEOUT_SECONDS,
        alias="jobTimeoutSeconds",
        description="An automated job still running this long after submission is stopped (TIMED_OUT).",
    )
    human_poll_min_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        alias="humanPollMinSeconds",
        description="Shortest wait between polls of a human job.",
    )
    human_poll_max_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        alias="humanPollMaxSeconds",
        description="Longest wait between polls of a human job.",
    )
    human_job_timeout_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=60,
        le=MAX_TIMEOUT_SECONDS,
        alias="humanJobTimeoutSeconds",
        description="A human job still running this long after submission is stopped (TIMED_OUT).",
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> PollingSettings:
        low, high = self.human_poll_min_seconds, self.human_poll_max_seconds
        if low is not None and high is not None and low > high:
            raise ValueError(f"humanPollMinSeconds ({low}) must not be above humanPollMaxSeconds ({high})")
        return self

    def overrides(self) -> dict[str, int]:
        """The keys given, in the file's spelling (`evalpipe.run.timing.Timing.with_overrides`)."""
        return self.model_dump(by_alias=True, exclude_none=True)


DEFAULT_COLLECT_BATCH = 20
MAX_COLLECT_BATCH = 100
SCENARIOS_FILE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.json$"
# Hosts a pipeline HTTP target may reach over plain http:// (the local mode's app).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class CollectSettings(BaseModel):
    """``pipeline.collect``: collect the run's dataset from scenarios, in the pipeline.

    Dropping ``scenarios/<suite>/<name>.json`` plays every scenario against ``target`` (the
    ``evalpipe collect`` target configuration; an HTTP header reads a Secrets Manager secret,
    never the environment), ``batchSize`` scenarios per Lambda invocation, and evaluates the
    records as if they had been dropped as a dataset (docs/collect.md, "In the pipeline").
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    target: TargetConfig = Field(
        description=(
            "The app under test (evalpipe collect's target: bedrock, http or lambda). The deployment "
            "must allow it: collectModels, collectSecrets, collectFunctions."
        )
    )
    batch_size: int = Field(
        default=DEFAULT_COLLECT_BATCH,
        ge=1,
        le=MAX_COLLECT_BATCH,
        alias="batchSize",
        description="Scenarios one collect invocation plays (the Map runs collectConcurrency at once).",
    )
    each_turn: bool = Field(
        default=False, alias="eachTurn", description="One record per turn instead of one per scenario."
    )
    strip_tags: tuple[str, ...] | None = Field(
        default=None,
        alias="stripTags",
        description="Reasoning tags removed from answers; default: the target's stripTags.",
    )
    scenarios: str | None = Field(
        default=None,
        pattern=SCENARIOS_FILE_PATTERN,
        description=(
            "A file under scenarios/<suite>/ that each run request (the suite's schedule, `evalpipe run "
            "--suite S`) collects the dataset from: its latest version, read when the run starts. Lets "
            "the suite have pipeline.schedule."
        ),
    )

    @field_validator("strip_tags")
    @classmethod
    def _tag_names(cls, tags: tuple[str, ...] | None) -> tuple[str, ...] | None:
        bad = [tag for tag in tags or () if not TAG_NAME.match(tag)]
        if bad:
            raise ValueError(f"not tag names: {', '.join(map(repr, bad))}")
        return tags

    @model_validator(mode="after")
    def _secrets_only(self) -> CollectSettings:
        target = self.target
        if isinstance(target, HttpTarget):
            from_env = sorted(
                name for name, source in target.headers.items() if isinstance(source, HeaderFromEnv)
            )
            if from_env:
                raise ValueError(
                    f"target.headers.{from_env[0]}: the pipeline has no environment of yours to read a "
                    'header from: give it {"secretArn": "arn:aws:secretsmanager:...", "jsonKey": ...} '
                    "(a Secrets Manager secret the deployment's collectSecrets lists)"
                )
            parts = urlsplit(target.url)
            if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
                raise ValueError(
                    f"target.url: the pipeline sends the app's secret header over the network, so it "
                    f"must be an https:// URL, not {parts.scheme}:// (http:// only for localhost, as "
                    "the local mode's app)"
                )
        return self

    @property
    def tags(self) -> tuple[str, ...]:
        """The reasoning tags stripped from answers."""
        return self.strip_tags if self.strip_tags is not None else self.target.strip_tags


class PipelineSettings(BaseModel):
    """The ``pipeline`` section: this product's settings beside the API members."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    description: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Sent as jobDescription; default 'evalpipe run of suite <suite>'.",
    )
    job_tags: dict[str, str] = Field(
        default_factory=dict,
        alias="jobTags",
        max_length=MAX_SUITE_TAGS,
        description=(
            "Extra job tags (key -> value). The pipeline adds evalpipe:suite and evalpipe:run-id "
            "itself; keys starting with 'aws:' are reserved by AWS. Values are sanitized to the "
            "API's tag alphabet."
        ),
        json_schema_extra={
            "propertyNames": {"pattern": TAG_KEY_PATTERN, "not": {"pattern": RESERVED_TAG_KEY_PATTERN}}
        },
    )
    low_score: LowScoreSettings = Field(
        default_factory=LowScoreSettings,
        alias="lowScore",
        description=(
            "When a score is flagged (a 'low score'); any flagged score makes the run's verdict LOW_SCORES."
        ),
    )
    notification: NotificationSettings = Field(
        default_factory=NotificationSettings, description="What the run's notification contains."
    )
    regression: RegressionSettings = Field(
        default_factory=RegressionSettings,
        description=(
            "When a run is REGRESSED: how far each metric's average may drop from the baseline run's."
        ),
    )
    polling: PollingSettings = Field(
        default_factory=PollingSettings,
        description=(
            "This suite's polling interval and job timeouts, overriding the deployment's for its runs; "
            "checked against the state machine's 35-day timeout."
        ),
    )
    shard_size: int = Field(
        default=MAX_JOB_RECORDS,
        ge=1,
        le=MAX_JOB_RECORDS,
        alias="shardSize",
        description=(
            f"Most records one evaluation job gets (the service takes {MAX_JOB_RECORDS}). A larger "
            "dataset is split in dataset order into shards of this size, one job each, merged into one run."
        ),
    )
    schedule: ScheduleSettings | None = Field(
        default=None,
        description=(
            "Run the suite on a schedule (EventBridge Scheduler). Only for suites whose "
            "datasetMetricConfigs all name built-in datasets (Builtin.*), or that collect their dataset "
            "on each run (pipeline.collect.scenarios); such a suite also runs on `evalpipe run --suite S`."
        ),
    )

    collect: CollectSettings | None = Field(
        default=None,
        description=(
            "Collect the dataset from scenarios dropped under scenarios/<suite>/ (a precomputed-responses "
            "suite): the records are evaluated as a dropped dataset would be."
        ),
    )

    @field_validator("job_tags")
    @classmethod
    def _tag_keys(cls, value: dict[str, str]) -> dict[str, str]:
        _check_keys(value, TAG_KEY_PATTERN, "tag key")
        reserved = sorted(
            key
            for key in value
            if key in (SUITE_TAG_KEY, RUN_ID_TAG_KEY) or key.lower().startswith(AWS_TAG_PREFIX)
        )
        if reserved:
            raise ValueError(
                f"tag keys {reserved} are reserved ({SUITE_TAG_KEY} and {RUN_ID_TAG_KEY} are set by "
                "the pipeline, 'aws:' keys by AWS)"
            )
        return value
