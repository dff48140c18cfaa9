"""Pins CloudFormation logical ids, so refactoring the construct tree never replaces a resource."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from aws_cdk import CfnResource
    from constructs import Construct


def pin_logical_id(construct: Construct, logical_id: str) -> CfnResource:
    """Give the L1 resource behind ``construct`` the logical id ``logical_id`` and return it."""
    resource = cast("CfnResource", construct.node.default_child)
    resource.override_logical_id(logical_id)
    return resource
