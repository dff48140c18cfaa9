"""Run moto's Lambda functions in this Python process instead of in Docker.

moto stores Lambda functions faithfully but executes them by starting a Docker container
(`LambdaFunction._invoke_lambda`). Tests and the local mode have no Docker, and want the
handler to run against the same in-memory moto backends as the test anyway. `install()` swaps
moto's invocation for one that imports the function's handler module and calls it here, with
the function's own environment, a Lambda-like context object, a JSON round trip of event and
result, and the Lambda error payload (``errorType`` = exception class name) on failure, so
that Step Functions Retry/Catch rules match on the exception class name as in AWS.

Usage
-----
>>> from local.inprocess_lambda import inprocess_lambdas
>>> with mock_aws(), inprocess_lambdas():          # doctest: +SKIP
...     lambda_client.invoke(FunctionName="validate", Payload=b"{}")

Invocations run one at a time (handlers share ``os.environ``, ``sys.path`` and module globals),
except the functions registered with `InProcessLambdaRunner.serve_concurrently` (an app under test
invoked by the collect function's worker threads, `local.targets`).

Every invocation path of moto goes through `LambdaFunction.invoke` (the Invoke API, SNS, SQS
and DynamoDB event sources, S3 and EventBridge notifications, Step Functions tasks), so that is
the one seam patched. See docs/testing.md for the moto internals this module depends on.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import decimal
import importlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"

Resolver = Callable[[LambdaFunction], "str | os.PathLike[str] | None"]
"""Maps a moto function to the directory holding its code (put on ``sys.path``), or None.

None means "use the zip uploaded to moto": it is extracted once per code digest.
"""

# The value real Lambda puts in X-Amz-Function-Error when the handler raised (botocore exposes
# it as the response's "FunctionError"; Step Functions only checks that it is present).
FUNCTION_ERROR_UNHANDLED = "Unhandled"

# Modules whose `settings()` is a functools.cache over os.environ: cleared around every call so
# that each function reads its own environment (evalpipe/settings.py).
SETTINGS_MODULES = ("evalpipe.settings",)


def default_resolver(function: LambdaFunction) -> Path:
    """Every function runs from the repository's ``lambdas/`` directory (the shipped asset).

    Parameters
    ----------
    function : moto.awslambda.models.LambdaFunction
        The function being invoked (unused: all product functions share one code asset).

    Returns
    -------
    pathlib.Path
        ``<repo>/lambdas``.
    """
    return LAMBDAS_DIR


def directory_resolver(path: str | os.PathLike[str]) -> Resolver:
    """A resolver that runs every function from one directory.

    Parameters
    ----------
    path : str or os.PathLike
        Directory that contains the handler modules (what the zip's root would contain).

    Returns
    -------
    Resolver
        ``lambda function: path``.
    """
    resolved = Path(path).resolve()
    return lambda function: resolved


@dataclass
class FakeLambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use.

    ``memory_limit_in_mb`` is a string, as in the real runtime (it copies the environment variable).
    """

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: float
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout (never negative)."""
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass(frozen=True)
class Invocation:
    """One in-process invocation, kept by the runner for tests and the local mode's log."""

    function_name: str
    handler: str
    request_id: str
    event: Any
    payload: Any
    """The parsed response payload: the handler's result, or the error payload."""
    error_type: str | None
    duration_ms: float


class InProcessLambdaRunner:
    """Runs moto Lambda functions' handlers in this process, one at a time.

    Functions registered with `serve_concurrently` are the exception: they run at once, outside
    the lock (see there).

    Parameters
    ----------
    resolver : Resolver, optional
        Where each function's code lives; defaults to `default_resolver` (``lambdas/``).
    """

    def __init__(self, resolver: Resolver | None = None) -> None:
        self.resolver: Resolver = resolver or default_resolver
        self.invocations: list[Invocation] = []
        # Re-entrant: a handler may synchronously invoke another function (boto3 -> moto -> here)
        # on the same thread; environments then nest like a stack and restore in order.
        self._lock = threading.RLock()
        self._extracted: dict[str, Path] = {}
        self._concurrent: dict[str, Callable[[Any, Any], Any]] = {}

    def serve_concurrently(self, function_name: str, handler: Callable[[Any, Any], Any]) -> None:
        """Run the invocations of ``function_name`` with ``handler`` itself, outside the lock.

        For a function that reads no environment and shares no module with the product (the local
        app under test, `local.targets`): its invocations need neither the function's environment
        nor its code directory on ``sys.path``, so they run at once, on the invoking thread. A
        function invoked from inside another one's invocation on another thread (the collect
        function's workers invoking a Lambda target, through the emulator's HTTP server) would
        otherwise wait for the lock that invocation holds: a deadlock.
        """
        self._concurrent[function_name] = handler

    def exclusive(self) -> threading.RLock:
        """Hold while reading moto from a test thread as executions run (moto is not thread-safe)."""
        return self._lock

    # ------------------------------------------------------------------ invocation
    def invoke(self, function: LambdaFunction, event: Any) -> tuple[bytes, bool, str]:
        """Run ``function``'s handler with ``event``.

        Parameters
        ----------
        function : moto.awslambda.models.LambdaFunction
            The moto function (name, handler, environment, timeout, memory, code).
        event : Any
            The decoded JSON event.

        Returns
        -------
        tuple of (bytes, bool, str)
            The response payload (JSON), whether it is a function error, and a short log text.
        """
        request_id = str(uuid.uuid4())
        concurrent = self._concurrent.get(function.function_name)
        if concurrent is not None:
            started = time.monotonic()
            payload, error_type = _call(concurrent, event, self._context(function, request_id), request_id)
            duration_ms = (time.monotonic() - started) * 1000
        else:
            # Handlers share os.environ, sys.path and module globals: one invocation at a time.
            with self._lock:
                started = time.monotonic()
                payload, error_type = self._run(function, event, request_id)
                duration_ms = (time.monotonic() - started) * 1000
        body = json.dumps(payload).encode("utf-8")
        self.invocations.append(
            Invocation(
                function_name=function.function_name,
                handler=str(function.handler),
                request_id=request_id,
                event=event,
                payload=payload,
                error_type=error_type,
                duration_ms=duration_ms,
            )
        )
        log = f"START RequestId: {request_id}\n"
        if error_type:
            log += f"[ERROR] {error_type}: {payload.get('errorMessage')}\n"
            log += "".join(payload.get("stackTrace", []))
        log += (
            f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\n"
        )
        return body, error_type is not None, log

    def _run(self, function: LambdaFunction, event: Any, request_id: str) -> tuple[Any, str | None]:
        context = self._context(function, request_id)
        with self._environment(function, context):
            try:
                code_dir = self._code_dir(function)
            except _RuntimeError as exc:
                return exc.payload(), exc.error_type
            with _on_sys_path(code_dir):
                try:
                    handler = self._load_handler(str(function.handler or ""), code_dir)
                except _RuntimeError as exc:
                    return exc.payload(), exc.error_type
                return _call(handler, event, context, request_id)

    @staticmethod
    def _context(function: LambdaFunction, request_id: str) -> FakeLambdaContext:
        return FakeLambdaContext(
            function_name=function.function_name,
            function_version=str(function.version),
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=str(function.memory_size),
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{function.function_name}",
            log_stream_name=f"inprocess/[{function.version}]{request_id.replace('-', '')}",
            timeout_seconds=float(function.timeout or 3),
        )

    # ------------------------------------------------------------------ environment
    @contextlib.contextmanager
    def _environment(self, function: LambdaFunction, context: FakeLambdaContext) -> Iterator[None]:
        """Apply the function's environment on top of the process's, then restore it exactly."""
        runtime_vars = {
            # What the Lambda runtime sets. LAMBDA_TASK_ROOT is left out on purpose: Powertools'
            # Tracer and the X-Ray SDK take it as "inside Lambda" and would try to reach a daemon.
            "_HANDLER": str(function.handler or ""),
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": context.function_version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": context.memory_limit_in_mb,
            "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
        }
        applied = {**runtime_vars, **{k: str(v) for k, v in (function.environment_vars or {}).items()}}
        saved = dict(os.environ)
        os.environ.update(applied)
        _clear_settings_caches()
        try:
            yield
        finally:
            # Restore exactly, also undoing whatever the handler itself set or removed. (pop: a
            # KeyError here once failed one Submit of a 20-run burst in `bench/run.py local`, a
            # name gone before the restore; not root-caused, see docs/performance.md.)
            for name in set(os.environ) - set(saved):
                os.environ.pop(name, None)
            for name, value in saved.items():
                if os.environ.get(name) != value:
                    os.environ[name] = value
            _clear_settings_caches()

    # ------------------------------------------------------------------ code
    def _code_dir(self, function: LambdaFunction) -> Path:
        """The directory to import the handler from: the resolver's, or the extracted zip."""
        resolved = self.resolver(function)
        if resolved is not None:
            return Path(resolved).resolve()
        code = getattr(function, "code_bytes", b"") or b""
        if not code:
            raise _RuntimeError(
                "Runtime.ImportModuleError",
                f"in-process runner: the resolver returned None and {function.function_name} has no zip code",
            )
        digest = getattr(function, "code_digest", None) or str(hash(code))
        if digest not in self._extracted:
            target = Path(tempfile.mkdtemp(prefix=f"inprocess-{function.function_name}-", dir=_scratch()))
            try:
                with zipfile.ZipFile(io.BytesIO(code)) as archive:
                    archive.extractall(target)
            except zipfile.BadZipFile as exc:
                raise _RuntimeError(
                    "Runtime.ImportModuleError", f"the code of {function.function_name} is not a zip", exc
                ) from exc
            self._extracted[digest] = target
        return self._extracted[digest]

    @staticmethod
    def _load_handler(handler: str, code_dir: Path) -> Callable[[Any, Any], Any]:
        module_name, _, attribute = handler.replace("/", ".").rpartition(".")
        if not module_name or not attribute:
            raise _RuntimeError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values")
        _forget_foreign_package(module_name, code_dir)
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise _RuntimeError(
                "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", exc
            ) from exc
        function = getattr(module, attribute, None)
        if not callable(function):
            raise _RuntimeError(
                "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'"
            )
        return function


def _call(
    handler: Callable[[Any, Any], Any], event: Any, context: FakeLambdaContext, request_id: str
) -> tuple[Any, str | None]:
    """Call the handler as the runtime does: a fresh event, the result marshalled to JSON, errors as
    the runtime's error payload."""
    try:
        # Real Lambda hands the handler a freshly decoded event, never the caller's object.
        result = handler(json.loads(json.dumps(event)), context)
    except Exception as exc:
        return _error_payload(exc), type(exc).__name__
    except SystemExit as exc:
        # sys.exit() in a handler ends the sandbox in AWS; here it must not end the process.
        error = _RuntimeError(
            "Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited ({exc.code})"
        )
        return error.payload(), error.error_type
    try:
        return json.loads(json.dumps(result, default=_lambda_json_default)), None
    except (TypeError, ValueError) as exc:
        error = _RuntimeError("Runtime.MarshalError", f"Unable to marshal response: {exc}")
        return error.payload(), error.error_type


@contextlib.contextmanager
def _on_sys_path(code_dir: Path) -> Iterator[None]:
    """Put the function's code directory first on sys.path for the call (as /var/task is)."""
    entry = str(code_dir)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


class _RuntimeError(Exception):
    """An error the Lambda runtime itself reports (import failure, bad handler, marshalling)."""

    def __init__(self, error_type: str, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.cause = cause

    def payload(self) -> dict[str, Any]:
        stack = traceback.format_tb(self.cause.__traceback__) if self.cause else []
        return {
            "errorMessage": self.message,
            "errorType": self.error_type,
            "requestId": "",
            "stackTrace": stack,
        }


def _error_payload(exc: BaseException) -> dict[str, Any]:
    """The payload the Python runtime returns when the handler raises."""
    # tb_next skips the runner's own frame: the trace starts in the handler, as in AWS.
    handler_frames = exc.__traceback__.tb_next if exc.__traceback__ else None
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(handler_frames),
    }


def _lambda_json_default(value: Any) -> Any:
    # The Python runtime's marshaller encodes Decimal (what boto3's DynamoDB layer returns) as a
    # JSON number; without this a handler that works in AWS would fail here with MarshalError.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _clear_settings_caches() -> None:
    # Only modules already imported are cleared: importing one here would run product code for
    # functions that never use it. A module imported during the call starts with an empty cache.
    for name in SETTINGS_MODULES:
        module = sys.modules.get(name)
        settings = getattr(module, "settings", None)
        if settings is not None and hasattr(settings, "cache_clear"):
            settings.cache_clear()


def _module_location(module: Any) -> list[Path]:
    locations = [Path(p) for p in (getattr(module, "__path__", None) or [])]
    if getattr(module, "__file__", None):
        locations.append(Path(module.__file__))
    return [p.resolve() for p in locations]


def _forget_foreign_package(module_name: str, code_dir: Path) -> None:
    """Drop an already imported top-level package that lives outside ``code_dir``.

    Two functions may ship different code under the same module name (two zips with an
    ``index.py``); the one on this call's path must win, as each function has its own sandbox.
    """
    top = module_name.split(".", 1)[0]
    loaded = sys.modules.get(top)
    if loaded is None:
        return
    locations = _module_location(loaded)
    if not locations or any(location.is_relative_to(code_dir) for location in locations):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


_scratch_dir: Path | None = None


def _scratch() -> Path:
    """A process-wide temporary directory for extracted zips, removed at exit."""
    global _scratch_dir  # noqa: PLW0603 - one lazily created directory per process
    if _scratch_dir is None:
        _scratch_dir = Path(tempfile.mkdtemp(prefix="inprocess-lambda-"))
        atexit.register(shutil.rmtree, _scratch_dir, True)
    return _scratch_dir


# ---------------------------------------------------------------------- patching moto
@dataclass
class _Installation:
    runner: InProcessLambdaRunner
    originals: Mapping[tuple[type, str], Any]


_installation: _Installation | None = None
_install_lock = threading.Lock()


def _patched_function_invoke(
    self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any
) -> bytes:
    """Replacement for `moto.awslambda.models.LambdaFunction.invoke`.

    Same contract as moto's: ``body`` is the raw request payload (str/bytes, possibly empty),
    ``request_headers`` carries X-Amz-Invocation-Type, ``response_headers`` is filled in.
    """
    installation = _installation
    if installation is None:
        # Only reachable if uninstall() ran between moto's lookup and this call.
        raise RuntimeError("in-process Lambda runner was uninstalled during an invocation")
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    try:
        event = json.loads(body) if isinstance(body, str) and body.strip() else (body or {})
    except json.JSONDecodeError as exc:
        # What real Lambda answers (HTTP 400) instead of running the handler on a non-JSON payload.
        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
        ) from exc
    invocation_type = (request_headers or {}).get("x-amz-invocation-type", "RequestResponse")
    if invocation_type == "DryRun":
        # DryRun only checks that the caller may invoke; the handler never runs.
        return b""
    payload, errored, log = installation.runner.invoke(self, event)
    if errored:
        # botocore turns this header into the response's FunctionError; the Step Functions engine
        # (lambda_eval_utils) then raises with the payload and reads "errorType" as the error name.
        response_headers["x-amz-function-error"] = FUNCTION_ERROR_UNHANDLED
    # Real Lambda returns the last 4 KB of the log, base64, when LogType=Tail was asked for
    # (moto's response layer drops the header otherwise).
    response_headers["x-amz-log-result"] = base64.b64encode(log.encode("utf-8")[-4096:]).decode("ascii")
    return payload


def _patched_simple_backend_invoke(  # noqa: PLR0917 - moto's positional signature
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    """Replacement for `moto.awslambda_simple.models.LambdaSimpleBackend.invoke`.

    With ``mock_aws(config={"lambda": {"use_docker": False}})`` moto answers every invoke with a
    canned string and never reaches `LambdaFunction.invoke`; route it to the function instead so
    the harness behaves the same whichever Lambda backend the test configured.
    """
    function = self.get_function(function_name, qualifier)
    payload = function.invoke(body, headers, response_headers)
    response_headers["Content-Length"] = str(len(payload))
    return payload


_PATCHES: Mapping[tuple[type, str], Any] = {
    (LambdaFunction, "invoke"): _patched_function_invoke,
    (LambdaSimpleBackend, "invoke"): _patched_simple_backend_invoke,
}


def _activate(runner: InProcessLambdaRunner) -> None:
    """Patch moto (once) and make ``runner`` the one that serves invocations."""
    global _installation  # noqa: PLW0603 - the installation is process-wide by nature
    with _install_lock:
        if _installation is None:
            originals = {key: key[0].__dict__[key[1]] for key in _PATCHES}
            for (owner, name), replacement in _PATCHES.items():
                setattr(owner, name, replacement)
            _installation = _Installation(runner=runner, originals=originals)
        else:
            _installation.runner = runner


def install(resolver: Resolver | None = None) -> InProcessLambdaRunner:
    """Make every moto Lambda invocation run the handler in this process.

    Calling it again replaces the runner (and resolver) but keeps moto's originals for
    `uninstall`. The patch is process-wide and independent of `mock_aws` (moto's backends are
    reset by mocks; the classes patched here are not).

    Parameters
    ----------
    resolver : Resolver, optional
        ``resolver(function) -> directory | None``; defaults to the repository's ``lambdas/``.
        Return None to run the zip that was uploaded to moto.

    Returns
    -------
    InProcessLambdaRunner
        The runner; its ``invocations`` list records every call.
    """
    runner = InProcessLambdaRunner(resolver)
    _activate(runner)
    return runner


def uninstall() -> None:
    """Restore moto's own Lambda invocation (Docker). A no-op when not installed."""
    global _installation  # noqa: PLW0603 - see _activate()
    with _install_lock:
        if _installation is None:
            return
        for (owner, name), original in _installation.originals.items():
            setattr(owner, name, original)
        _installation = None


def current_runner() -> InProcessLambdaRunner | None:
    """The installed runner, or None when moto runs Lambda its own way."""
    installation = _installation
    return installation.runner if installation else None


@contextlib.contextmanager
def inprocess_lambdas(resolver: Resolver | None = None) -> Iterator[InProcessLambdaRunner]:
    """`install` for the duration of a ``with`` block; restores the previous state on exit.

    Parameters
    ----------
    resolver : Resolver, optional
        See `install`.

    Yields
    ------
    InProcessLambdaRunner
        The active runner.
    """
    previous = current_runner()
    runner = install(resolver)
    try:
        yield runner
    finally:
        if previous is None:
            uninstall()
        else:
            _activate(previous)
