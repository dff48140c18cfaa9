"""Builds the CDK App from cdk.json's context, so `cdk synth` and `python3 app.py` agree."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import App, Environment

from infra.settings import PipelineSettings
from infra.stack import PipelineStack

if TYPE_CHECKING:
    from collections.abc import Mapping

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` block of cdk.json (feature flags and the pipeline's defaults)."""
    return dict(json.loads(path.read_text(encoding="utf-8")).get("context", {}))


def create_app(
    context: Mapping[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, PipelineStack]:
    """An App holding the pipeline stack.

    Parameters
    ----------
    context
        Context on top of cdk.json's. The CDK CLI's own context (``-c``) still wins: CDK
        applies it after the values given here.
    outdir
        The cloud assembly directory (default: the CLI's ``CDK_OUTDIR``, else ``./cdk.out``).
    """
    # The CLI names the output directory in CDK_OUTDIR; run directly, write to ./cdk.out as
    # `cdk synth` would (CDK's own default would be a temporary directory).
    outdir = outdir or os.environ.get("CDK_OUTDIR") or str(CDK_JSON.parent / "cdk.out")
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    settings = PipelineSettings.from_context(app.node)
    # Environment-agnostic unless the CLI resolved an account/region (cdk deploy does).
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    stack = PipelineStack(app, settings.stack_name, settings=settings, env=env)
    return app, stack


def synthesize(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> dict[str, Any]:
    """Synthesize the app and return the pipeline stack's template (cdk-nag runs as in `cdk synth`).

    Pass ``{"aws:cdk:bundling-stacks": []}`` in ``context`` to skip building the Lambda asset.
    """
    app, stack = create_app(context, outdir=outdir)
    return app.synth().get_stack_artifact(stack.artifact_id).template
