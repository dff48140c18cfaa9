"""cdk-nag (v3) helpers: acknowledge exact findings at the narrowest construct, and name them.

cdk-nag 3 runs as a CDK policy-validation plugin: a finding that is not acknowledged stops
``synth``. An acknowledgment covers the construct it is recorded on and all its children, so
these helpers record it on the one resource that carries the finding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Validations

if TYPE_CHECKING:
    from collections.abc import Iterable

    from aws_cdk import Stack
    from aws_cdk import aws_iam as iam
    from constructs import IConstruct

MIN_REASON_LENGTH = 20


def acknowledge(scope: IConstruct, rule: str, reason: str, findings: Iterable[str] = ()) -> None:
    """Acknowledge ``rule`` on ``scope``; with ``findings``, only those (``rule[finding]``).

    Parameters
    ----------
    scope
        The resource carrying the finding (the narrowest construct that does).
    rule
        A cdk-nag rule id, e.g. ``AwsSolutions-IAM5``.
    reason
        Why the finding is acceptable here; at least ``MIN_REASON_LENGTH`` characters.
    findings
        Exact finding ids such as ``Action::s3:GetObject*``; empty means the whole rule.
    """
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"a cdk-nag acknowledgment needs a real reason, got {reason!r}")
    ids = [f"{rule}[{finding}]" for finding in sorted(set(findings))] or [rule]
    Validations.of(scope).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in ids))


def default_policy(role: iam.IRole) -> IConstruct:
    """The ``DefaultPolicy`` that CDK's grants write into, where IAM5 findings sit."""
    return role.node.find_child("DefaultPolicy")


def nag_resource(stack: Stack, value: str) -> str:
    """``value`` the way cdk-nag prints it in a finding: ``{"Ref": X}`` as ``<X>``, GetAtt as ``<A.B>``.

    Acknowledgments name their exact findings; this keeps those strings in step with the
    resources instead of hard-coding logical ids.
    """
    resolved = stack.resolve(value)
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        delimiter, parts = resolved["Fn::Join"]
        return delimiter.join(_nag_part(part) for part in parts)
    return _nag_part(resolved)


def _nag_part(part: object) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and "Ref" in part:
        return f"<{part['Ref']}>"
    if isinstance(part, dict) and "Fn::GetAtt" in part:
        return f"<{'.'.join(part['Fn::GetAtt'])}>"
    raise ValueError(f"cannot render {part!r} the way cdk-nag does")
