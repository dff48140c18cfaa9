"""Builds the one Lambda code asset without Docker: wheels for the target platform + our sources.

For AWS the dependencies are wheels for the Lambda platform, installed by uv when the environment
has it (``make install`` puts it in ``.venv/``: it takes the pure-Python wheels from the cache the
venv's install filled, and downloads only the platform's binary ones) or else by pip. For the
local mode (the handlers run in this process) they are copied from the environment running the
synth, which ``make install`` filled from the same pins: no second resolver pass, no download.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsii
from aws_cdk import ILocalBundling

if TYPE_CHECKING:
    from collections.abc import Iterable

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDAS_DIR = REPO_ROOT / "lambdas"
REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"
SOURCE_PACKAGES = ("evalpipe", "handlers")
CACHE_ROOT = REPO_ROOT / ".cache" / "lambda-deps"

# pip platform tags per Lambda architecture (Lambda runs Amazon Linux 2023, glibc 2.34).
PIP_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
# The same targets as uv names them (``uv pip install --python-platform``).
UV_PLATFORMS = {
    "manylinux2014_aarch64": "aarch64-manylinux2014",
    "manylinux2014_x86_64": "x86_64-manylinux2014",
}
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
    reuse_installed
        Copy the requirements (and what they need) from the distributions installed in the
        running environment when every pin is satisfied there; uv or pip runs only otherwise.
        Host bundles only: the files are this interpreter's.

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
        reuse_installed: bool = False,
    ) -> None:
        self.platform = platform
        self.python_version = python_version
        self.requirements = requirements
        self.source_dir = source_dir
        self.packages = packages
        self.cache_root = cache_root
        self.reuse_installed = reuse_installed
        self._installed: list[importlib.metadata.Distribution] | None = None
        self._looked_up = False

    @classmethod
    def for_lambda(cls, architecture: str, python_version: str) -> PipBundler:
        """A bundler for a Lambda function of ``architecture`` (``arm64`` or ``x86_64``)."""
        return cls(platform=PIP_PLATFORMS[architecture], python_version=python_version)

    @classmethod
    def for_host(cls) -> PipBundler:
        """A bundler for the interpreter running it (the local mode runs handlers in-process).

        Its dependencies come from this environment's installed distributions when they match
        the pins (``make install`` put them there), else uv or pip installs them for the host.
        """
        return cls(platform=None, python_version=None, reuse_installed=True)

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
            installed = self.installed_distributions()
            if installed is None:
                self._install(staging)
            else:
                copy_distributions(installed, staging)
            try:
                staging.rename(cache)
            except OSError:
                if not cache.is_dir():  # another process won the race otherwise
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return cache

    def install_command(self, target: Path, uv: str | None) -> list[str]:
        """The command installing the requirements into ``target``: uv's when ``uv`` is given, else pip's."""
        cross = bool(self.platform or self.python_version)
        if uv:
            command = [
                uv, "pip", "install", "--quiet", "--python", sys.executable, "--no-config",
                "--target", str(target), "-r", str(self.requirements),
            ]  # fmt: skip
            if cross:
                command += ["--only-binary", ":all:"]
            if self.platform:
                command += ["--python-platform", UV_PLATFORMS[self.platform]]
            if self.python_version:
                command += ["--python-version", self.python_version]
            return command
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--target", str(target), "-r", str(self.requirements),
        ]  # fmt: skip
        if cross:
            # Cross-installs must take wheels only: an sdist would build for the host.
            command += ["--implementation", "cp", "--only-binary=:all:"]
        if self.platform:
            command += ["--platform", self.platform]
        if self.python_version:
            command += ["--python-version", self.python_version]
        return command

    def _install(self, target: Path) -> None:
        """uv if there is one (a uv too old for these options falls back to pip), else pip."""
        failures = []
        for uv in dict.fromkeys([find_uv(), None]):
            result = subprocess.run(
                self.install_command(target, uv), capture_output=True, text=True, check=False
            )
            (target / ".lock").unlink(missing_ok=True)  # uv's lock of a --target directory
            if result.returncode == 0:
                return
            failures.append(f"{'uv' if uv else 'pip'}:\n{result.stdout}\n{result.stderr}")
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
        raise RuntimeError("installing the Lambda asset's requirements failed:\n" + "\n".join(failures))

    def installed_distributions(self) -> list[importlib.metadata.Distribution] | None:
        """The installed distributions the requirements resolve to here, or None (then uv or pip runs).

        None unless ``reuse_installed``; None too when a pin is missing or not satisfied.
        """
        if self.reuse_installed and not self._looked_up:
            self._installed = installed_closure(requirement_lines(self.requirements))
            self._looked_up = True
        return self._installed

    def _cache_key(self) -> str:
        digest = hashlib.sha256(self.requirements.read_bytes())
        host_python = f"{sys.implementation.name}{sys.version_info.major}.{sys.version_info.minor}"
        digest.update(
            f"{self.platform or sysconfig.get_platform()}|{self.python_version or host_python}".encode()
        )
        installed = self.installed_distributions()
        if installed is not None:  # a copy of this environment: its exact versions
            versions = sorted(f"{_name(dist)}=={dist.version}" for dist in installed)
            digest.update(f"|installed|{','.join(versions)}".encode())
        return digest.hexdigest()[:16]


def find_uv() -> str | None:
    """The uv beside this interpreter (``make install`` puts it in ``.venv/bin``), else on PATH, else None."""
    beside = Path(sysconfig.get_path("scripts")) / "uv"
    if beside.is_file():
        return str(beside)
    return shutil.which("uv")


# ====================================================================== the host's installed copy
def requirement_lines(requirements: Path) -> list[str] | None:
    """The requirement specifiers of a requirements file, or None if it uses pip options."""
    lines = []
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):  # -r, --index-url, ...: leave those files to pip
            return None
        lines.append(line)
    return lines


def installed_closure(specifiers: Iterable[str] | None) -> list[importlib.metadata.Distribution] | None:
    """The installed distributions ``specifiers`` need, with their dependencies, for this interpreter.

    None when one is missing, its version does not satisfy the specifier, or its file list is
    unknown: the caller then installs with uv or pip instead.
    """
    packaging = _packaging()
    if specifiers is None or packaging is None:
        return None
    requirement_cls, canonicalize = packaging
    found: dict[str, importlib.metadata.Distribution] = {}
    extras_seen: dict[str, set[str]] = {}
    pending = [(requirement_cls(spec), "") for spec in specifiers]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize(requirement.name)
        try:
            dist = found.get(name) or importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return None
        if dist.files is None or not requirement.specifier.contains(dist.version, prereleases=True):
            return None
        found[name] = dist
        new = ({""} | set(requirement.extras)) - extras_seen.setdefault(name, set())
        extras_seen[name] |= new
        for requires in dist.requires or []:
            pending += [(requirement_cls(requires), wanted) for wanted in sorted(new)]
    return sorted(found.values(), key=_name)


def copy_distributions(distributions: Iterable[importlib.metadata.Distribution], target: Path) -> None:
    """Copy every file of ``distributions`` under their site-packages into ``target`` (no bytecode).

    Files outside site-packages (console scripts in ``bin/``) are left out, as ``pip --target``
    would place them in ``target/bin``, which no handler reads.
    """
    for dist in distributions:
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            source = Path(str(dist.locate_file(file)))
            if not source.is_file():  # RECORD may list files an installer chose not to write
                continue
            destination = target / Path(*file.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


def _name(dist: importlib.metadata.Distribution) -> str:
    return re.sub(r"[-_.]+", "-", str(dist.metadata["Name"])).lower()


def _packaging() -> tuple[Any, Any] | None:
    """``packaging``'s Requirement and canonicalize_name (pip's vendored copy if it is not installed)."""
    for prefix in ("", "pip._vendor."):
        try:
            requirements = importlib.import_module(f"{prefix}packaging.requirements")
            utils = importlib.import_module(f"{prefix}packaging.utils")
        except ImportError:
            continue
        return requirements.Requirement, utils.canonicalize_name
    return None
