"""Builds the one Lambda code asset without Docker: pip wheels for the target platform + our sources."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDAS_DIR = REPO_ROOT / "lambdas"
REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"
SOURCE_PACKAGES = ("evalpipe", "handlers")
CACHE_ROOT = REPO_ROOT / ".cache" / "lambda-deps"

# pip platform tags per Lambda architecture (Lambda runs Amazon Linux 2023, glibc 2.34).
PIP_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


@jsii.implements(ILocalBundling)
class PipBundler:
    """Local bundler: installs ``requirements`` as wheels for a target platform, then adds our packages.

    The wheels land in a cache directory keyed by the requirements, platform and Python version,
    so a synth after the first one only copies files. Docker is never used.

    Parameters
    ----------
    platform
        pip ``--platform`` tag, e.g. ``manylinux2014_aarch64``; ``None`` installs for the host.
    python_version
        ``--python-version`` of the target (``"3.14"``); ``None`` installs for the host.
    requirements
        The requirements file to install.
    source_dir
        Directory holding the packages in ``packages``.
    packages
        Package directories copied next to the dependencies.
    cache_root
        Where installed dependency sets are kept.

    Examples
    --------
    >>> bundler = PipBundler.for_lambda("arm64", "3.14")
    >>> bundler.bundle(Path("build/asset"))  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        platform: str | None,
        python_version: str | None,
        requirements: Path = REQUIREMENTS,
        source_dir: Path = LAMBDAS_DIR,
        packages: tuple[str, ...] = SOURCE_PACKAGES,
        cache_root: Path = CACHE_ROOT,
    ) -> None:
        self.platform = platform
        self.python_version = python_version
        self.requirements = requirements
        self.source_dir = source_dir
        self.packages = packages
        self.cache_root = cache_root

    @classmethod
    def for_lambda(cls, architecture: str, python_version: str) -> PipBundler:
        """A bundler for a Lambda function of ``architecture`` (``arm64`` or ``x86_64``)."""
        return cls(platform=PIP_PLATFORMS[architecture], python_version=python_version)

    @classmethod
    def for_host(cls) -> PipBundler:
        """A bundler for the interpreter running it (the local mode runs handlers in-process)."""
        return cls(platform=None, python_version=None)

    @property
    def target(self) -> dict[str, str]:
        """What the installed wheels depend on; part of the asset hash (see ``functions.py``)."""
        return {
            "PIP_PLATFORM": self.platform or "host",
            "PIP_PYTHON_VERSION": self.python_version or "host",
        }

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        """``ILocalBundling`` entry point: CDK calls it instead of running a container."""
        self.bundle(Path(output_dir))
        return True

    def bundle(self, output_dir: Path) -> None:
        """Write the dependencies and the source packages into ``output_dir``."""
        deps = self.install_dependencies()
        output_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(deps, output_dir, dirs_exist_ok=True, ignore=_IGNORED)
        for package in self.packages:
            shutil.copytree(
                self.source_dir / package, output_dir / package, dirs_exist_ok=True, ignore=_IGNORED
            )

    def install_dependencies(self) -> Path:
        """Install the requirements into the cache (once per key) and return the directory."""
        cache = self.cache_root / self._cache_key()
        if cache.is_dir():
            return cache
        self.cache_root.mkdir(parents=True, exist_ok=True)
        # Install beside the cache and rename: parallel synths (pytest -n) never see half a set.
        staging = Path(tempfile.mkdtemp(prefix=f"{cache.name}.", dir=self.cache_root))
        try:
            self._pip_install(staging)
            try:
                staging.rename(cache)
            except OSError:
                if not cache.is_dir():  # another process won the race otherwise
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return cache

    def _pip_install(self, target: Path) -> None:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--target", str(target), "-r", str(self.requirements),
        ]  # fmt: skip
        if self.platform or self.python_version:
            # Cross-installs must take wheels only: an sdist would build for the host.
            command += ["--implementation", "cp", "--only-binary=:all:"]
        if self.platform:
            command += ["--platform", self.platform]
        if self.python_version:
            command += ["--python-version", self.python_version]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pip install for the Lambda asset failed:\n{result.stdout}\n{result.stderr}")

    def _cache_key(self) -> str:
        digest = hashlib.sha256(self.requirements.read_bytes())
        host_python = f"{sys.implementation.name}{sys.version_info.major}.{sys.version_info.minor}"
        digest.update(
            f"{self.platform or sysconfig.get_platform()}|{self.python_version or host_python}".encode()
        )
        return digest.hexdigest()[:16]
