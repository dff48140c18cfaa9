"""The apps under test the local stack serves, so a suite collects through every target offline.

``pipeline.collect`` (docs/collect.md) names one of three targets; the local mode answers each:

- ``bedrock``: the Bedrock emulator's Converse stand-in, for the models of ``LOCAL_COLLECT_MODELS``
  (`local.demo`);
- ``http``: `local.target_app` (the deterministic bookstore assistant) on ``127.0.0.1`` at a free
  port, requiring ``Authorization: Bearer <token>``; the token is a fresh random value kept in the
  Secrets Manager secret `APP_SECRET_NAME` as ``{"token": ...}``;
- ``lambda``: the same app deployed as the function `APP_FUNCTION` (alias `APP_ALIAS`), the name
  ``examples/scenarios/targets/lambda.json`` uses.

The deployment must list the secret and the function before it is synthesized (``collectSecrets``,
``collectFunctions``), so their ARNs are fixed: the local account and region (`local.server`), and
for the secret the suffix Secrets Manager appends, chosen with moto's ``_custom_id_`` tag.
`LocalTargets.start` creates them through the emulator's API, as a user deploys an app.

>>> targets = LocalTargets.start()                       # doctest: +SKIP
>>> targets.collect_target("http")["url"]                # doctest: +SKIP
'http://127.0.0.1:53117/chat'
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from local import inprocess_lambda, target_app
from local.server import DEFAULT_ACCOUNT, DEFAULT_REGION
from local.sfn_harness import create_function, create_lambda_role

APP_FUNCTION = "bookstore-assistant"
APP_ALIAS = "live"
APP_FUNCTION_ARN = f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:{APP_FUNCTION}"
APP_SECRET_NAME = "evalpipe-local/bookstore-app"
# The six characters Secrets Manager appends to a secret's name in its ARN (moto: `_custom_id_`).
APP_SECRET_SUFFIX = "Lc4lAp"
APP_SECRET_ARN = (
    f"arn:aws:secretsmanager:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:secret:{APP_SECRET_NAME}-{APP_SECRET_SUFFIX}"
)
# What the local stack's collect function may read and invoke (cdk.json's lists are [] by default).
LOCAL_COLLECT_SECRETS = [APP_SECRET_ARN]
LOCAL_COLLECT_FUNCTIONS = [APP_FUNCTION_ARN]
# The function's code: the app's one module, at the root of the zip.
_APP_MODULE = Path(target_app.__file__)
_APP_HANDLER = f"{_APP_MODULE.stem}.lambda_handler"


def app_zip() -> bytes:
    """The Lambda deployment package of the app: ``target_app.py`` (standard library only)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(_APP_MODULE, _APP_MODULE.name)
    return buffer.getvalue()


@dataclass
class LocalTargets:
    """The running HTTP app, its secret and the Lambda function; `stop` ends the app.

    Attributes
    ----------
    app
        The HTTP app (its ``requests`` list what it received).
    """

    app: target_app.TargetApp

    @classmethod
    def start(cls, *, region: str = DEFAULT_REGION) -> LocalTargets:
        """Start the HTTP app and create the secret and the function, through the emulator's API
        (``AWS_ENDPOINT_URL``, which `local.server.LocalEmulator` exports to this process)."""
        token = secrets.token_urlsafe(24)
        app = target_app.TargetApp(token=token).start()
        try:
            session = boto3.Session(region_name=region)
            session.client("secretsmanager").create_secret(
                Name=APP_SECRET_NAME,
                SecretString=json.dumps({"token": token}),
                Description="Bearer token of the local app under test (local/target_app.py)",
                Tags=[{"Key": "_custom_id_", "Value": APP_SECRET_SUFFIX}],
            )
            client = session.client("lambda")
            role = create_lambda_role(session.client("iam"), name="evalpipe-local-app-role")
            create_function(client, APP_FUNCTION, _APP_HANDLER, {}, role, code=app_zip())
            version = client.publish_version(FunctionName=APP_FUNCTION)["Version"]
            client.create_alias(FunctionName=APP_FUNCTION, Name=APP_ALIAS, FunctionVersion=version)
        except BaseException:
            app.stop()
            raise
        runner = inprocess_lambda.current_runner()
        if runner is not None:
            # The collect function invokes it from its worker threads while its own invocation runs.
            runner.serve_concurrently(APP_FUNCTION, target_app.lambda_handler)
        return cls(app)

    def stop(self) -> None:
        self.app.stop()

    def as_dict(self) -> dict[str, str]:
        """What a user needs to point a suite at the apps (``python -m local serve``'s ready file)."""
        return {
            "httpUrl": self.app.url,
            "secretArn": APP_SECRET_ARN,
            "functionName": APP_FUNCTION,
            "functionArn": APP_FUNCTION_ARN,
            "qualifier": APP_ALIAS,
        }

    def collect_target(self, kind: str) -> dict[str, Any]:
        """The ``pipeline.collect.target`` of ``kind`` (``http`` or ``lambda``) for these apps."""
        return collect_target(kind, self.as_dict())


def collect_target(kind: str, targets: dict[str, str]) -> dict[str, Any]:
    """``pipeline.collect.target`` for the local app as ``kind`` (``http`` or ``lambda``), from
    `LocalTargets.as_dict` (or the ready file's ``targets``): the examples' target files, with the
    secret the pipeline reads instead of an environment variable.

    Examples
    --------
    >>> collect_target("lambda", {"functionName": "bookstore-assistant", "qualifier": "live"})["payload"]
    {'messages': '{{messages}}', 'context': '{{context}}'}
    """
    common = {
        "answerPath": "$.output.text",
        "inputTokensPath": "$.usage.inputTokens",
        "outputTokensPath": "$.usage.outputTokens",
    }
    if kind == "http":
        return {
            "type": "http",
            "url": targets["httpUrl"],
            "body": {
                "messages": "{{messages}}",
                "context": "{{context}}",
                "sessionId": "evalpipe-{{scenarioId}}",
            },
            "headers": {
                "Authorization": {"secretArn": targets["secretArn"], "jsonKey": "token", "prefix": "Bearer "}
            },
            "timeoutSeconds": 30,
            **common,
        }
    if kind == "lambda":
        return {
            "type": "lambda",
            "functionName": targets["functionName"],
            "qualifier": targets["qualifier"],
            "payload": {"messages": "{{messages}}", "context": "{{context}}"},
            **common,
        }
    raise ValueError(f"no local app serves target type {kind!r} (http or lambda)")
