"""Names that must stay stable: construct ids, CloudFormation logical ids, outputs, state names.

Stateful resources (bucket, table, key, topic) carry fixed logical ids so that moving a
construct in the tree never makes CloudFormation replace them.
"""

from __future__ import annotations

from typing import Final

SERVICE_NAME: Final = "evalpipe"
METRICS_NAMESPACE: Final = "EvalPipe"
PROJECT_TAG: Final = "bedrock-evalpipe"

# The parse function's EMF metrics (lambdas/evalpipe/run_metrics.py): names and dimensions.
METRIC_SCORE_AVERAGE: Final = "ScoreAverage"
METRIC_NA_RATE: Final = "NaRate"
METRIC_LOW_SCORES: Final = "LowScores"
METRIC_RUN_VERDICT: Final = "RunVerdict"
DIMENSION_SERVICE: Final = "service"
DIMENSION_SUITE: Final = "suite"
DIMENSION_METRIC: Final = "metric"
DIMENSION_VERDICT: Final = "verdict"
VERDICT_REGRESSED: Final = "REGRESSED"
# The dashboard is f"{DASHBOARD_NAME_PREFIX}{stack name}"; a suite's alarm f"{stack}-{suite}-regressed".
DASHBOARD_NAME_PREFIX: Final = "evalpipe-"

# Lambda: one Python version for the runtime and for the wheels the bundler fetches.
LAMBDA_PYTHON_VERSION: Final = "3.14"
LAMBDA_HANDLER_PACKAGE: Final = "handlers"

# Object prefixes (docs/design.md, "Object conventions").
SUITES_PREFIX: Final = "suites/"
DATASETS_PREFIX: Final = "datasets/"
RESULTS_PREFIX: Final = "results/"
REPORTS_PREFIX: Final = "reports/"
# Scenarios a collecting run plays (dropped, or the file a suite's pipeline.collect.scenarios names).
SCENARIOS_PREFIX: Final = "scenarios/"
# The run's own copy of the dropped dataset version (evalpipe.run.triggers.INPUTS_PREFIX): the job
# and parse read it, so an upload to the same key while the run goes on cannot change what it reads.
INPUTS_PREFIX: Final = "inputs/"
# Documents of EXTERNAL_SOURCES knowledge-base jobs (read by the Bedrock role when externalSources is on).
SOURCES_PREFIX: Final = "sources/"
# Every object under datasets/: a file that is not .jsonl is rejected with a notification, not ignored.
DATASET_KEY_WILDCARD: Final = "datasets/*"
# Scenarios dropped here are collected by the pipeline (a suite with pipeline.collect).
SCENARIOS_KEY_WILDCARD: Final = f"{SCENARIOS_PREFIX}*"
SUITE_KEY_WILDCARD: Final = "suites/*.json"

# Construct ids.
STORAGE_ID: Final = "Storage"
NOTIFICATIONS_ID: Final = "Notifications"
BEDROCK_ROLE_ID: Final = "BedrockServiceRole"
FUNCTIONS_ID: Final = "Functions"
WORKFLOW_ID: Final = "Workflow"
TRIGGER_ID: Final = "Trigger"
OBSERVABILITY_ID: Final = "Observability"
SCHEDULES_ID: Final = "Schedules"
RECONCILE_ID: Final = "Reconcile"

# Logical ids of stateful or referenced resources.
BUCKET_LOGICAL_ID: Final = "EvalBucket"
ACCESS_LOGS_BUCKET_LOGICAL_ID: Final = "AccessLogsBucket"
RUNS_TABLE_LOGICAL_ID: Final = "RunsTable"
TOPIC_LOGICAL_ID: Final = "AlertsTopic"
TOPIC_KEY_LOGICAL_ID: Final = "AlertsTopicKey"
BEDROCK_ROLE_LOGICAL_ID: Final = "BedrockEvaluationRole"
STATE_MACHINE_LOGICAL_ID: Final = "EvalStateMachine"
STATE_MACHINE_LOG_GROUP_LOGICAL_ID: Final = "EvalStateMachineLogs"
TRIGGER_RULE_LOGICAL_ID: Final = "DatasetCreatedRule"
TRIGGER_DLQ_LOGICAL_ID: Final = "DatasetCreatedDlq"
DASHBOARD_LOGICAL_ID: Final = "EvalDashboard"
SCHEDULE_GROUP_LOGICAL_ID: Final = "SuiteScheduleGroup"
SCHEDULER_ROLE_LOGICAL_ID: Final = "SchedulerExecutionRole"
SCHEDULES_RULE_LOGICAL_ID: Final = "SuiteChangedRule"
SCHEDULES_DLQ_LOGICAL_ID: Final = "SuiteSchedulesDlq"
RECONCILE_RULE_LOGICAL_ID: Final = "ExecutionEndedRule"
RECONCILE_DLQ_LOGICAL_ID: Final = "ExecutionEndedDlq"
# The stack's schedule group is f"{SCHEDULE_GROUP_PREFIX}{stack name}" (<= 64 characters).
SCHEDULE_GROUP_PREFIX: Final = "evalpipe-"

# Stack outputs (logical ids).
OUTPUT_BUCKET_NAME: Final = "BucketName"
OUTPUT_RUNS_TABLE_NAME: Final = "RunsTableName"
OUTPUT_TOPIC_ARN: Final = "TopicArn"
OUTPUT_STATE_MACHINE_ARN: Final = "StateMachineArn"
OUTPUT_BEDROCK_ROLE_ARN: Final = "BedrockRoleArn"
OUTPUT_DASHBOARD_NAME: Final = "DashboardName"
OUTPUT_SCHEDULE_GROUP_NAME: Final = "ScheduleGroupName"

# DynamoDB keys (docs/design.md, "DynamoDB").
TABLE_PARTITION_KEY: Final = "pk"
TABLE_SORT_KEY: Final = "sk"
SUITE_INDEX_NAME: Final = "by-suite"
SUITE_INDEX_PARTITION_KEY: Final = "gsi1pk"
SUITE_INDEX_SORT_KEY: Final = "gsi1sk"

# Functions: name -> logical id; the handler is f"handlers.{name}.handler".
FUNCTION_VALIDATE: Final = "validate"
FUNCTION_SUBMIT: Final = "submit"
FUNCTION_POLL: Final = "poll"
FUNCTION_STOP: Final = "stop"
FUNCTION_PARSE: Final = "parse"
FUNCTION_NOTIFY: Final = "notify"
FUNCTION_RECORD_ERROR: Final = "record_error"
FUNCTION_COLLECT: Final = "collect"
FUNCTION_LOGICAL_IDS: Final = {
    FUNCTION_VALIDATE: "ValidateFunction",
    FUNCTION_SUBMIT: "SubmitFunction",
    FUNCTION_POLL: "PollFunction",
    FUNCTION_STOP: "StopFunction",
    FUNCTION_PARSE: "ParseFunction",
    FUNCTION_NOTIFY: "NotifyFunction",
    FUNCTION_RECORD_ERROR: "RecordErrorFunction",
    FUNCTION_COLLECT: "CollectFunction",
}
# Functions outside the state machine, built by the same factory (infra/schedules.py,
# infra/reconcile.py).
FUNCTION_SYNC_SCHEDULES: Final = "sync_schedules"
FUNCTION_RECONCILE: Final = "reconcile"
EXTRA_FUNCTION_LOGICAL_IDS: Final = {
    FUNCTION_SYNC_SCHEDULES: "SyncSchedulesFunction",
    FUNCTION_RECONCILE: "ReconcileFunction",
}
# The functions a failed run depends on to reach the topic: reserved concurrency keeps
# account-wide throttling from starving them (errorPathReservedConcurrency).
ERROR_PATH_FUNCTIONS: Final = (FUNCTION_RECORD_ERROR, FUNCTION_NOTIFY, FUNCTION_RECONCILE)

# State names (docs/design.md, "The state machine").
STATE_VALIDATE: Final = "Validate"
STATE_OUTCOME_CHOICE: Final = "CheckOutcome"
STATE_JOBS: Final = "Jobs"  # the Map over the run's shards
STATE_COLLECT: Final = "Collect"  # the Map over the run's scenario batches
STATE_COLLECT_BATCH: Final = "CollectBatch"
STATE_VALIDATE_COLLECTED: Final = "ValidateCollected"
STATE_SUBMIT: Final = "Submit"
STATE_SUBMIT_CHOICE: Final = "CheckSlot"
STATE_WAIT_SLOT: Final = "WaitForSlot"
STATE_SHARD_DONE: Final = "JobEnded"
STATE_WAIT: Final = "WaitForJob"
STATE_POLL: Final = "Poll"
STATE_JOB_STATUS_CHOICE: Final = "CheckJobStatus"
STATE_STOP: Final = "StopJob"
STATE_PARSE: Final = "Parse"
STATE_NOTIFY: Final = "Notify"
STATE_RECORD_ERROR: Final = "RecordError"
STATE_NOTIFY_ERROR: Final = "NotifyError"
STATE_DONE: Final = "Done"
STATE_DUPLICATE: Final = "Duplicate"
STATE_IGNORED: Final = "Ignored"
STATE_FAILED: Final = "PipelineFailed"

# Errors the domain raises into Step Functions that are worth retrying.
BEDROCK_TRANSIENT_ERRORS: Final = ("BedrockThrottled", "BedrockQuotaExceeded", "BedrockUnavailable")
# The notify step's "SNS did not take the message" (nothing went out: safe to retry).
NOTIFICATION_NOT_SENT: Final = "NotificationNotSent"
# Any error a task raises (States.Timeout excepted): Poll retries these a few times.
TASK_FAILED: Final = "States.TaskFailed"
LAMBDA_SERVICE_ERRORS: Final = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)

# Step Functions' EventBridge events (source aws.states) of executions that did not succeed: the
# reconcile rule's pattern (evalpipe.steps.reconcile.ENDINGS).
STATES_EVENT_SOURCE: Final = "aws.states"
EXECUTION_STATUS_CHANGE: Final = "Step Functions Execution Status Change"
UNSUCCESSFUL_EXECUTION_STATUSES: Final = ("FAILED", "TIMED_OUT", "ABORTED")
