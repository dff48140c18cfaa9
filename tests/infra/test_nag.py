"""cdk-nag (AwsSolutions, v3 policy-validation plugin): no open finding, every acknowledgment earned."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk import Stack, Stage, Validations
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks

from infra import nag
from infra.application import create_app
from tests.infra.conftest import SKIP_BUNDLING, VARIANT_CONTEXT, Synth
from tests.infra.test_knowledge_bases import KB_CONTEXT

if TYPE_CHECKING:
    from constructs import IConstruct

ACKNOWLEDGED = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
CONSTRUCT_MODULES = ("infra.storage", "infra.notifications", "infra.bedrock_role", "infra.functions",
                     "infra.workflow", "infra.trigger", "infra.schedules", "infra.reconcile",
                     "infra.dead_letters")  # fmt: skip


def _acknowledgments(root: IConstruct) -> list[tuple[IConstruct, str, str]]:
    return [
        (construct, rule_id, reason)
        for construct in root.node.find_all()
        for entry in construct.node.metadata
        if entry.type == ACKNOWLEDGED
        for rule_id, reason in entry.data.items()
    ]


@pytest.fixture(params=["default", "variant"])
def any_synth(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue("synth" if request.param == "default" else request.param)


def test_no_open_findings(any_synth: Synth) -> None:
    # Synth already failed if the plugin found anything; check again explicitly.
    report = AwsSolutionsChecks(verbose=True).validate_scope(any_synth.app)
    assert [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in report.violations] == []
    assert report.success
    for find in (
        Annotations.from_stack(any_synth.stack).find_error,
        Annotations.from_stack(any_synth.stack).find_warning,
    ):
        assert find("*", Match.string_like_regexp("AwsSolutions-.*")) == []


def test_every_acknowledgment_has_a_reason_and_names_its_finding(any_synth: Synth) -> None:
    acknowledgments = _acknowledgments(any_synth.app)
    assert acknowledgments
    for construct, rule_id, reason in acknowledgments:
        assert rule_id.removeprefix("Annotation::").startswith("AwsSolutions-"), rule_id
        assert len(reason.strip()) >= 20, (construct.node.path, rule_id)
        # Narrow: on a resource, never the whole stack or app; IAM5 only for named findings.
        assert not isinstance(construct, (Stack, Stage)), rule_id
        if "IAM5" in rule_id:
            assert rule_id.endswith("]"), rule_id


def test_acknowledgments_are_copied_into_the_template(synth: Synth) -> None:
    rules = [
        rule
        for resource in synth.json["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert rules and all(len(rule["reason"]) >= 20 for rule in rules)


@pytest.mark.parametrize(
    "context", [{}, VARIANT_CONTEXT, KB_CONTEXT], ids=["default", "variant", "knowledge-bases"]
)
def test_every_acknowledgment_is_needed(monkeypatch: pytest.MonkeyPatch, context: dict[str, Any]) -> None:
    # Given the constructs built with acknowledgments only recorded, not applied
    recorded: set[tuple[str, str]] = set()

    def record(scope: IConstruct, rule: str, reason: str, findings: Any = ()) -> None:
        path = scope.node.default_child.node.path if scope.node.default_child else scope.node.path
        for finding in sorted(set(findings)) or [None]:
            recorded.add((path, f"{rule}[{finding}]" if finding else rule))

    for module in CONSTRUCT_MODULES:
        if getattr(importlib.import_module(module), "acknowledge", None) is nag.acknowledge:
            monkeypatch.setattr(f"{module}.acknowledge", record)
    app, _ = create_app({**SKIP_BUNDLING, **context})

    # When cdk-nag checks the tree
    report = AwsSolutionsChecks().validate_scope(app)

    # Then the findings are exactly the acknowledged ones: none open, none acknowledged in vain
    found = {(r.construct_path, v.rule_name) for v in report.violations for r in v.violating_resources}
    assert found == recorded


def test_a_short_reason_is_refused(synth: Synth) -> None:
    with pytest.raises(ValueError, match="real reason"):
        nag.acknowledge(synth.stack.storage.bucket, "AwsSolutions-S1", "because")
