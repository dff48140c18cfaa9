"""The Docker-free Lambda asset: wheels for the target platform + evalpipe/ + handlers/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra import constants
from infra.application import create_app
from infra.bundling import PipBundler

PINNED_BOTO3 = re.search(r"^boto3==(\S+)", Path("lambdas/requirements.txt").read_text(), re.M)


def _fake_sources(root: Path) -> Path:
    for package in ("evalpipe", "handlers"):
        (root / package / "__pycache__").mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
        (root / package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    (root / "requirements.txt").write_text("boto3==1.43.11\n")
    return root


def test_bundle_copies_cached_dependencies_and_sources_without_pycache(tmp_path: Path) -> None:
    # Given sources and an already-installed dependency set in the cache
    sources = _fake_sources(tmp_path / "lambdas")
    bundler = PipBundler(
        platform="manylinux2014_aarch64",
        python_version="3.14",
        requirements=sources / "requirements.txt",
        source_dir=sources,
        cache_root=tmp_path / "cache",
    )
    cached = tmp_path / "cache" / bundler._cache_key()
    (cached / "boto3").mkdir(parents=True)
    (cached / "boto3" / "__init__.py").write_text("__version__ = '1.43.11'\n")

    # When it bundles (no pip run: the cache is there)
    out = tmp_path / "out"
    assert bundler.try_bundle(str(out)) is True

    # Then the asset holds the dependencies and our packages, minus bytecode
    assert (out / "boto3" / "__init__.py").is_file()
    assert (out / "evalpipe" / "__init__.py").is_file()
    assert (out / "handlers" / "__init__.py").is_file()
    assert not list(out.rglob("__pycache__"))


def test_cache_key_follows_requirements_platform_and_python(tmp_path: Path) -> None:
    requirements = _fake_sources(tmp_path) / "requirements.txt"

    def key(platform: str | None, version: str | None) -> str:
        return PipBundler(platform=platform, python_version=version, requirements=requirements)._cache_key()

    keys = {key("manylinux2014_aarch64", "3.14"), key("manylinux2014_x86_64", "3.14"),
            key("manylinux2014_aarch64", "3.13"), key(None, None)}  # fmt: skip
    assert len(keys) == 4
    before = key("manylinux2014_aarch64", "3.14")
    requirements.write_text("boto3==1.43.12\n")
    assert key("manylinux2014_aarch64", "3.14") != before


def test_the_bundler_targets_the_lambda_platform() -> None:
    assert PipBundler.for_lambda("arm64", "3.14").target == {
        "PIP_PLATFORM": "manylinux2014_aarch64",
        "PIP_PYTHON_VERSION": "3.14",
    }
    assert PipBundler.for_lambda("x86_64", "3.14").platform == "manylinux2014_x86_64"
    assert PipBundler.for_host().target == {"PIP_PLATFORM": "host", "PIP_PYTHON_VERSION": "host"}


@pytest.mark.slow
def test_real_bundling_builds_an_arm64_asset(tmp_path: Path) -> None:
    # Given the default app (arm64) with bundling on: pip fetches wheels once into .cache/
    app, stack = create_app(outdir=str(tmp_path / "cdk.out"))

    # When it synthesizes
    app.synth()

    # Then one asset directory holds the code and the pinned, aarch64 dependencies
    manifest = json.loads((tmp_path / "cdk.out" / f"{stack.artifact_id}.assets.json").read_text())
    directories = [
        f["source"]["path"] for f in manifest["files"].values() if f["source"].get("packaging") == "zip"
    ]
    assert len(directories) == 1
    asset = tmp_path / "cdk.out" / directories[0]
    assert (asset / "evalpipe" / "__init__.py").is_file()
    assert (asset / "handlers" / "__init__.py").is_file()
    assert PINNED_BOTO3 is not None
    assert (asset / f"boto3-{PINNED_BOTO3.group(1)}.dist-info").is_dir()
    assert PINNED_BOTO3.group(1) == "1.43.11"
    assert "__version__ = '1.43.11'" in (asset / "boto3" / "__init__.py").read_text()
    version = constants.LAMBDA_PYTHON_VERSION.replace(".", "")
    shared_objects = [p.name for p in (asset / "pydantic_core").glob("*.so")]
    assert shared_objects and all(f"cpython-{version}-aarch64-linux-gnu" in name for name in shared_objects)
    assert not list(asset.rglob("__pycache__"))
