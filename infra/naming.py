"""Pins CloudFormation logical ids, so refactoring the construct tree never replaces a resource."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from aws_cdk import CfnResource, Stack
    from constructs import Construct


def pin_logical_id(construct: Construct, logical_id: str) -> CfnResource:
    """Give the L1 resource behind ``construct`` the logical id ``logical_id`` and return it."""
    resource = cast("CfnResource", construct.node.default_child)
    resource.override_logical_id(logical_id)
    return resource


def nag_resource(stack: Stack, value: str) -> str:
    """``value`` the way cdk-nag prints it in a finding: ``{"Ref": X}`` as ``<X>``, GetAtt as ``<A.B>``.

    Suppressions name their exact findings (``applies_to``); this keeps those strings in step
    with the resources instead of hard-coding logical ids.
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
