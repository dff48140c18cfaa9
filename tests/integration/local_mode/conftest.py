"""Fixtures for the tests of `local.moto_patches` (what the local mode changes in moto 5.2.1).

`patched` applies the patches for one test and restores moto afterwards; `unpatched` makes sure
moto is as released, so a "why" test can show the defect a patch exists for. When a moto upgrade
fixes a defect, its "why" test fails: drop the patch then. When an upgrade moves what a patch
relies on, the "with the patch" test fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local import moto_patches
from local.sfn_harness import SFN_MOTO_CONFIG

REGION = "us-east-1"
ACCOUNT = "123456789012"
__all__ = ["ACCOUNT", "REGION", "SFN_MOTO_CONFIG"]


@pytest.fixture
def patched(aws_env: None) -> Iterator[None]:
    was_installed = moto_patches.installed()
    moto_patches.install()
    yield
    if not was_installed:
        moto_patches.uninstall()


@pytest.fixture
def unpatched(aws_env: None) -> Iterator[None]:
    was_installed = moto_patches.installed()
    moto_patches.uninstall()
    yield
    if was_installed:
        moto_patches.install()
