"""Deploy a synthesized cloud assembly (``cdk.out``) the way ``cdk deploy`` does, to any endpoint.

Nothing here knows about moto: it only uses boto3 clients, so it works against the local
emulator (``AWS_ENDPOINT_URL``) exactly as the CDK CLI works against AWS:

1. bootstrap: the file-asset bucket ``cdk-hnb659fds-assets-<account>-<region>`` and the SSM
   parameter ``/cdk-bootstrap/hnb659fds/version`` that the template's ``BootstrapVersion``
   parameter (and its ``CheckBootstrapVersion`` rule) reads; an existing bootstrap is kept;
2. assets: every file asset of ``<stack>.assets.json`` is zipped (``packaging: zip``) or sent
   as is (``file``) to its ``objectKey``;
3. ``CreateStack`` with the template inline, or by ``TemplateURL`` (its asset) when it is larger
   than CloudFormation's 51,200-byte ``TemplateBody`` limit; capabilities as ``cdk deploy``;
4. waits for ``CREATE_COMPLETE`` and reads the outputs and physical resource ids.

>>> stack = deploy_assembly(Path("cdk.out"))        # doctest: +SKIP
>>> stack.outputs["BucketName"]
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from collections.abc import Mapping

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "21"
"""What the bootstrap parameter holds (the version ``cdk bootstrap`` of CDK 2.1xx deploys)."""
TEMPLATE_BODY_LIMIT = 51_200
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
REPO_ROOT = Path(__file__).resolve().parent.parent
ZIP_CACHE = REPO_ROOT / ".cache" / "local" / "assets"


class DeploymentError(RuntimeError):
    """The stack did not reach CREATE_COMPLETE (the message holds the failed resources)."""


@dataclass(frozen=True)
class StackArtifact:
    """One ``aws:cloudformation:stack`` artifact of a cloud assembly."""

    name: str
    template_file: Path
    assets_file: Path | None
    template_asset_url: str | None
    required_bootstrap_version: int
    bootstrap_parameter: str
    tags: dict[str, str]

    @property
    def template(self) -> dict[str, Any]:
        return json.loads(self.template_file.read_text(encoding="utf-8"))


@dataclass
class DeployedStack:
    """A created stack: its id, outputs and resources (logical id -> physical id / type)."""

    name: str
    stack_id: str
    status: str
    outputs: dict[str, str]
    resources: dict[str, str] = field(default_factory=dict)
    resource_types: dict[str, str] = field(default_factory=dict)
    assets: list[str] = field(default_factory=list)
    seconds: float = 0.0


def read_assembly(cdk_out: Path, stack_name: str | None = None) -> StackArtifact:
    """The stack artifact of ``cdk_out/manifest.json`` (the only one, or ``stack_name``)."""
    manifest = json.loads((cdk_out / "manifest.json").read_text(encoding="utf-8"))
    artifacts = manifest.get("artifacts", {})
    stacks = {name: a for name, a in artifacts.items() if a.get("type") == "aws:cloudformation:stack"}
    if stack_name is None:
        if len(stacks) != 1:
            raise ValueError(f"{cdk_out} holds {len(stacks)} stacks ({sorted(stacks)}): name one")
        stack_name = next(iter(stacks))
    if stack_name not in stacks:
        raise ValueError(f"no stack {stack_name!r} in {cdk_out}; stacks: {sorted(stacks)}")
    artifact = stacks[stack_name]
    properties = artifact.get("properties", {})
    assets_file = None
    for dependency in artifact.get("dependencies", []) + properties.get("additionalDependencies", []):
        dep = artifacts.get(dependency, {})
        if dep.get("type") == "cdk:asset-manifest":
            assets_file = cdk_out / dep["properties"]["file"]
    return StackArtifact(
        name=stack_name,
        template_file=cdk_out / properties["templateFile"],
        assets_file=assets_file,
        template_asset_url=properties.get("stackTemplateAssetObjectUrl"),
        required_bootstrap_version=int(properties.get("requiresBootstrapStackVersion", 0)),
        bootstrap_parameter=properties.get(
            "bootstrapStackVersionSsmParameter", f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
        ),
        tags=dict(properties.get("tags", {})),
    )


def substitute(text: str, account: str, region: str, partition: str = "aws") -> str:
    """Resolve the ``${AWS::...}`` placeholders of an asset manifest."""
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", partition)
    )


def bootstrap(session: boto3.Session, account: str, region: str, parameter: str, version: str) -> str:
    """What ``cdk bootstrap`` leaves that a deployment reads: the asset bucket and the version."""
    s3, ssm = session.client("s3"), session.client("ssm")
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{account}-{region}"
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    try:
        ssm.get_parameter(Name=parameter)
    except ssm.exceptions.ParameterNotFound:
        ssm.put_parameter(Name=parameter, Value=version, Type="String")
    return bucket


def zip_directory(source: Path, cache_key: str | None = None) -> bytes:
    """A deterministic zip of ``source`` (sorted entries, fixed timestamps), cached by asset hash."""
    cached = ZIP_CACHE / f"{cache_key}.zip" if cache_key else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (path.stat().st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes(), compresslevel=1)
    body = buffer.getvalue()
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = cached.with_suffix(f".{os.getpid()}.tmp")
        staging.write_bytes(body)
        staging.replace(cached)
    return body


def publish_assets(session: boto3.Session, assets_file: Path, account: str, region: str) -> list[str]:
    """Upload every file asset to its destination; returns ``s3://bucket/key`` of each."""
    manifest = json.loads(assets_file.read_text(encoding="utf-8"))
    s3 = session.client("s3")
    published = []
    for asset_hash, asset in manifest.get("files", {}).items():
        source = assets_file.parent / asset["source"]["path"]
        packaging = asset["source"].get("packaging", "file")
        if packaging == "zip" and source.is_dir():
            body = zip_directory(source, cache_key=asset_hash)
        else:
            body = source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = substitute(destination["bucketName"], account, region)
            key = substitute(destination["objectKey"], account, region)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            published.append(f"s3://{bucket}/{key}")
    return published


def deploy_assembly(
    cdk_out: Path,
    stack_name: str | None = None,
    *,
    session: boto3.Session | None = None,
    parameters: Mapping[str, str] | None = None,
    bootstrap_version: str = BOOTSTRAP_VERSION,
    timeout: float = 120,
) -> DeployedStack:
    """Bootstrap, publish the assets, create the stack and wait for it (see the module doc).

    Parameters
    ----------
    cdk_out
        The cloud assembly directory.
    session
        Where to deploy (default: a session from the environment, e.g. ``AWS_ENDPOINT_URL``).
    parameters
        Stack parameters beyond the template's defaults.

    Raises
    ------
    DeploymentError
        When the stack fails or the bootstrap is older than the assembly requires.
    """
    started = time.monotonic()
    session = session or boto3.Session()
    region = session.region_name or "us-east-1"
    account = session.client("sts").get_caller_identity()["Account"]
    artifact = read_assembly(cdk_out, stack_name)
    bootstrap(session, account, region, artifact.bootstrap_parameter, bootstrap_version)
    found = session.client("ssm").get_parameter(Name=artifact.bootstrap_parameter)["Parameter"]["Value"]
    if int(found) < artifact.required_bootstrap_version:
        raise DeploymentError(
            f"bootstrap version {found} < {artifact.required_bootstrap_version} required by {artifact.name}"
        )
    assets = publish_assets(session, artifact.assets_file, account, region) if artifact.assets_file else []

    cfn = session.client("cloudformation")
    request: dict[str, Any] = {
        "StackName": artifact.name,
        "Capabilities": list(CAPABILITIES),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
        "Tags": [{"Key": k, "Value": v} for k, v in artifact.tags.items()],
    }
    body = artifact.template_file.read_text(encoding="utf-8")
    if len(body.encode("utf-8")) > TEMPLATE_BODY_LIMIT and artifact.template_asset_url:
        location = substitute(artifact.template_asset_url, account, region).removeprefix("s3://")
        bucket, _, key = location.partition("/")
        request["TemplateURL"] = f"https://s3.{region}.amazonaws.com/{bucket}/{key}"
    else:
        request["TemplateBody"] = body
    stack_id = cfn.create_stack(**request)["StackId"]
    stack = _wait(cfn, stack_id, timeout)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise DeploymentError(f"{artifact.name}: {stack['StackStatus']}\n" + _failures(cfn, stack_id))
    resources = cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    return DeployedStack(
        name=artifact.name,
        stack_id=stack_id,
        status=stack["StackStatus"],
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources={r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources},
        resource_types={r["LogicalResourceId"]: r["ResourceType"] for r in resources},
        assets=assets,
        seconds=time.monotonic() - started,
    )


def _wait(cfn: Any, stack_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return stack
        time.sleep(0.2)


def _failures(cfn: Any, stack_id: str) -> str:
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    return "\n".join(
        f"  {e['LogicalResourceId']}: {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}"
        for e in events
        if "FAILED" in e["ResourceStatus"]
    )
