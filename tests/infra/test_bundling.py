"""The Docker-free Lambda asset: wheels for the target platform + evalpipe/ + handlers/.

For AWS: wheels for the Lambda platform (uv when the environment has it, else pip). For the local
mode: the installed distributions of this environment, copied (no resolver, no download).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra import bundling, constants
from infra.application import create_app
from infra.bundling import PipBundler, installed_closure, requirement_lines

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


def test_the_lambda_install_takes_wheels_for_the_lambda_platform_with_uv_or_pip(tmp_path: Path) -> None:
    bundler = PipBundler.for_lambda("arm64", "3.14")
    uv = bundler.install_command(tmp_path, "/venv/bin/uv")
    assert uv[:3] == ["/venv/bin/uv", "pip", "install"]
    assert _option(uv, "--python-platform") == "aarch64-manylinux2014"
    assert _option(uv, "--python-version") == "3.14"
    assert _option(uv, "--only-binary") == ":all:"
    assert _option(uv, "--target") == str(tmp_path)
    pip = bundler.install_command(tmp_path, None)
    assert pip[:4] == [sys.executable, "-m", "pip", "install"]
    assert _option(pip, "--platform") == "manylinux2014_aarch64"
    assert _option(pip, "--python-version") == "3.14"
    assert "--only-binary=:all:" in pip
    x86 = PipBundler.for_lambda("x86_64", "3.14").install_command(tmp_path, "uv")
    assert _option(x86, "--python-platform") == "x86_64-manylinux2014"


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_a_uv_install_leaves_no_lock_file_in_the_asset(tmp_path: Path, monkeypatch) -> None:
    sources = _fake_sources(tmp_path / "lambdas")
    bundler = PipBundler(
        platform="manylinux2014_aarch64", python_version="3.14", requirements=sources / "requirements.txt",
        source_dir=sources, cache_root=tmp_path / "cache",
    )  # fmt: skip

    def fake_uv(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        target = Path(_option(command, "--target"))
        (target / "boto3").mkdir()
        (target / ".lock").write_text("")  # what uv leaves in a --target directory
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(bundling, "find_uv", lambda: "uv")
    monkeypatch.setattr(bundling.subprocess, "run", fake_uv)
    deps = bundler.install_dependencies()
    assert (deps / "boto3").is_dir()
    assert not (deps / ".lock").exists()


def test_pip_installs_when_uv_fails(tmp_path: Path, monkeypatch) -> None:
    # Given a uv that refuses the command (too old for --python-platform, say)
    sources = _fake_sources(tmp_path / "lambdas")
    bundler = PipBundler(
        platform="manylinux2014_aarch64", python_version="3.14", requirements=sources / "requirements.txt",
        source_dir=sources, cache_root=tmp_path / "cache",
    )  # fmt: skip
    tools = []

    def installer(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        target = Path(_option(command, "--target"))
        if command[0] == "old-uv":
            tools.append("uv")
            (target / "partial").write_text("")
            return subprocess.CompletedProcess(command, 2, "", "error: unexpected argument")
        tools.append("pip")
        assert not (target / "partial").exists()
        (target / "boto3").mkdir()
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(bundling, "find_uv", lambda: "old-uv")
    monkeypatch.setattr(bundling.subprocess, "run", installer)

    # When it installs, then pip does it, into a clean directory
    deps = bundler.install_dependencies()
    assert tools == ["uv", "pip"]
    assert (deps / "boto3").is_dir()


def test_the_host_bundle_is_copied_from_this_environment_without_running_an_installer(
    tmp_path: Path, monkeypatch
) -> None:
    # Given the Lambda requirements, installed in this venv by `make install`
    def no_installer(*args: object, **kwargs: object) -> None:
        raise AssertionError("no pip / uv run for the host bundle")

    monkeypatch.setattr(bundling.subprocess, "run", no_installer)
    bundler = PipBundler.for_host()
    bundler.cache_root = tmp_path / "cache"

    # When the host bundle is built
    out = tmp_path / "out"
    bundler.bundle(out)

    # Then it holds every pinned distribution, at the pinned version, with what they need
    for line in requirement_lines(bundling.REQUIREMENTS) or []:
        name, version = re.match(r"([\w-]+)(?:\[\w+\])?==(\S+)", line).groups()  # type: ignore[union-attr]
        assert list(out.glob(f"{name.replace('-', '_')}-{version}.dist-info")), line
    assert (out / "aws_xray_sdk").is_dir()  # aws-lambda-powertools[tracer]
    assert (out / "pydantic_core").is_dir()  # pydantic's own requirement
    assert (out / "evalpipe" / "__init__.py").is_file()
    # And no bytecode, no console scripts (nothing outside site-packages)
    assert not list(out.rglob("__pycache__")) and not list(out.rglob("*.pyc"))
    assert not (out / "bin").exists()


def test_the_installed_closure_follows_extras_and_markers(tmp_path: Path) -> None:
    powertools = importlib.metadata.version("aws-lambda-powertools")
    plain = installed_closure([f"aws-lambda-powertools=={powertools}"])
    traced = installed_closure([f"aws-lambda-powertools[tracer]=={powertools}"])
    assert plain is not None and traced is not None
    names = lambda dists: {bundling._name(dist) for dist in dists}  # noqa: E731
    assert "aws-xray-sdk" not in names(plain)
    assert {"aws-xray-sdk", "wrapt"} <= names(traced)
    # A requirement that applies to no interpreter here is left out
    assert installed_closure(['boto3; python_version < "3"']) == []


def test_the_host_bundle_falls_back_to_an_installer_when_the_environment_does_not_match(
    tmp_path: Path,
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("boto3==0.0.1\n")
    assert PipBundler(platform=None, python_version=None, requirements=requirements,
                      reuse_installed=True).installed_distributions() is None  # fmt: skip
    assert installed_closure(["no-such-distribution-here==1.0"]) is None
    requirements.write_text("-r other.txt\n")
    assert requirement_lines(requirements) is None


def test_the_host_cache_key_follows_the_installed_versions(tmp_path: Path) -> None:
    requirements = _fake_sources(tmp_path) / "requirements.txt"
    requirements.write_text(f"boto3=={importlib.metadata.version('boto3')}\n")
    copied = PipBundler(platform=None, python_version=None, requirements=requirements, reuse_installed=True)
    installed = PipBundler(platform=None, python_version=None, requirements=requirements)
    assert copied._cache_key() != installed._cache_key()


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
