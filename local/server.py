"""The local AWS emulator: moto's server on loopback, with every local-mode patch.

`LocalEmulator.start()` installs `local.moto_patches` (in-process Lambda runner, Bedrock
emulator, CloudFormation / EventBridge / S3 fixes) *before* the server takes its first request,
turns on moto's Step Functions engine, starts ``ThreadedMotoServer`` on 127.0.0.1 (a free port by
default) and points this process's AWS SDK at it through the standard variables
(``AWS_ENDPOINT_URL``, fake credentials, region). The functions run in-process in the server's
request threads, so their boto3 clients read the same variables and talk to the emulator: the
function code has no local-mode branch.

>>> emulator = LocalEmulator().start()            # doctest: +SKIP
>>> boto3.client("s3").list_buckets()             # goes to emulator.url
>>> emulator.stop()
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from local import bedrock_emulator, moto_patches

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"

# What moto's server reads (or the SDK does) and the emulator sets for this process.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


# The local account's quota of concurrent evaluation jobs, and the local deployment's pool below it
# (local.demo synthesizes with maxConcurrentJobs=LOCAL_JOB_SLOTS): jobs started by hand against
# the emulator still find room, and a ServiceQuotaExceededException stays the exception.
LOCAL_JOB_QUOTA = 3
LOCAL_JOB_SLOTS = 2


@dataclass
class LocalEmulator:
    """moto on ``127.0.0.1:<port>`` for this process.

    Parameters
    ----------
    port
        0 picks a free port.
    region
        The region the SDK defaults to (``AWS_DEFAULT_REGION`` / ``AWS_REGION``).
    job_seconds
        How long an emulated Bedrock job runs (``EVALPIPE_EMULATOR_JOB_SECONDS``).
    max_concurrent_jobs
        The emulated account's quota of concurrent evaluation jobs (``LOCAL_JOB_QUOTA``: small, so
        the demo and the e2e tests exercise the pipeline's queue; None: no quota).
    """

    port: int = 0
    region: str = DEFAULT_REGION
    job_seconds: float | None = None
    max_concurrent_jobs: int | None = LOCAL_JOB_QUOTA
    host: str = "127.0.0.1"
    log_requests: bool = False
    _server: ThreadedMotoServer | None = field(default=None, init=False, repr=False)
    _saved_env: dict[str, str | None] = field(default_factory=dict, init=False, repr=False)
    _saved_sfn_config: Any = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        """The variables that point an AWS SDK / the AWS CLI at this emulator."""
        env = {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # moto's Step Functions engine calls Lambda through boto3 on localhost:$MOTO_PORT.
            "MOTO_PORT": str(self.port),
        }
        if self.job_seconds is not None:
            env["EVALPIPE_EMULATOR_JOB_SECONDS"] = str(self.job_seconds)
        return env

    def start(self) -> LocalEmulator:
        """Install the patches, start the server and export its environment to this process."""
        moto_patches.install()
        # The server's StepFunctions API picks its backend from this config at every request:
        # the ASL engine (executions really run) instead of the one that leaves them RUNNING.
        # moto 5.2.1 has no environment variable for it; a server in another process takes
        # POST /moto-api/config {"stepfunctions": {"execute_state_machine": true}}.
        sfn_config = default_user_config.setdefault("stepfunctions", {})
        self._saved_sfn_config = sfn_config.get("execute_state_machine")
        sfn_config["execute_state_machine"] = True
        # werkzeug logs every request at INFO on stderr; errors (tracebacks) stay visible.
        logging.getLogger("werkzeug").setLevel(logging.INFO if self.log_requests else logging.WARNING)
        bedrock_emulator.controls.max_concurrent_jobs = self.max_concurrent_jobs
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]  # the port bound when 0 was asked
        self._export(self.environment())
        return self

    def stop(self) -> None:
        """Stop the server and restore this process's environment (the patches stay installed)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = bool(
            self._saved_sfn_config
        )

    def _export(self, env: Mapping[str, str]) -> None:
        for name, value in env.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        # A profile of the machine must not override the emulator's fake credentials.
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ.pop(name, None)

    def __enter__(self) -> LocalEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running_emulator(**kwargs: Any) -> Iterator[LocalEmulator]:
    """``with running_emulator() as emulator:`` — `LocalEmulator` started and stopped."""
    emulator = LocalEmulator(**kwargs).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def emulator_control(endpoint: str, action: str, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Call a Bedrock emulator control over HTTP (``reset``, ``config``, ``throttle``, ``fail-jobs``, ...).

    See docs/local-bedrock-emulator.md; returns the controls' state after the action.
    """
    request = urllib.request.Request(
        f"{endpoint}/moto-api/evalpipe/bedrock-emulator/{action}",
        data=json.dumps(dict(payload or {})).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read() or b"{}"))
