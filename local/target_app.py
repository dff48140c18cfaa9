"""A small app under test for ``evalpipe collect``: a bookstore support assistant over HTTP and
as a Lambda handler, answering deterministically from the conversation.

Standard library only. ``POST /chat`` (any path) takes ``{"messages": [{"role", "content"}],
"context": {...}}`` and answers ``{"output": {"text": ...}, "usage": {"inputTokens",
"outputTokens"}}``; :func:`lambda_handler` takes and returns the same. Every answer starts with
a ``<thinking>`` block, as some models leak them, so collecting shows that it is stripped.

Controls for tests: :meth:`TargetApp.fail_next` answers the next N requests with a status
(429 or 5xx) before answering normally; ``token`` requires ``Authorization: Bearer <token>``;
``delay_seconds`` slows every answer; ``requests`` keeps what was received.

Run it by hand::

    python -m local.target_app --port 8765 [--fail-first 2 --fail-status 429] \
        [--token-env APP_TOKEN] [--delay 0.5]

and collect from it with ``examples/scenarios/targets/local-http.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ORDER = re.compile(r"\bBK-\d+\b")
HOST = "127.0.0.1"


def answer(messages: list[dict[str, Any]], context: dict[str, Any] | None = None) -> str:
    """The assistant's reply to the conversation so far (the last message is the user's).

    Examples
    --------
    >>> answer([{"role": "user", "content": "Where is my order BK-1?"}]).split("</thinking>")[1]
    'Order BK-1 shipped on May 3 and should arrive by May 8.'
    """
    users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
    last = users[-1] if users else ""
    text = last.lower()
    orders = ORDER.findall(" ".join(users))
    order = orders[-1] if orders else None
    name = (context or {}).get("customerName")
    greeting = f"Hi {name}! " if name and len(users) == 1 else ""
    if text.strip(" .!").startswith(("yes", "please do", "go ahead")) and len(users) > 1:
        target = order or "your order"
        reply = f"Done: order {target} is cancelled and the refund reaches you in 5-7 business days."
    elif "cancel" in text and order:
        reply = f"Order {order} is still processing, so it can be cancelled. Shall I go ahead and cancel it?"
    elif order:
        reply = f"Order {order} shipped on May 3 and should arrive by May 8."
    elif "return" in text:
        reply = "You can return a book within 30 days for a full refund under Orders > Return an item."
    else:
        reply = f"Thanks for your message about {last.strip()[:60]!r}. How else can I help?"
    thinking = f"<thinking>{len(messages)} messages; the customer asks: {last[:40]}</thinking>"
    return f"{thinking}{greeting}{reply}"


def respond(event: dict[str, Any]) -> dict[str, Any]:
    """The app's JSON answer to a request body / Lambda event."""
    messages = event.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError('the request needs "messages": [{"role": "user", "content": "..."}]')
    context = event.get("context") if isinstance(event.get("context"), dict) else None
    text = answer(messages, context)
    words_in = sum(len(str(m.get("content", "")).split()) for m in messages)
    return {"output": {"text": text}, "usage": {"inputTokens": words_in, "outputTokens": len(text.split())}}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The same app as a Lambda function (``local.target_app.lambda_handler``)."""
    return respond(event)


@dataclass
class Received:
    """One request the app got."""

    path: str
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class TargetApp:
    """The HTTP app on a free local port (a context manager: started on enter, stopped on exit).

    Parameters
    ----------
    token : str, optional
        When set, requests need ``Authorization: Bearer <token>`` (401 otherwise).
    port : int
        0 picks a free port.
    delay_seconds : float
        How long each answer takes (a slow app, to interrupt a collection mid-way).
    """

    token: str | None = None
    port: int = 0
    delay_seconds: float = 0.0
    requests: list[Received] = field(default_factory=list)
    _failures: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the app first"
        return f"http://{HOST}:{self._server.server_address[1]}/chat"

    def fail_next(self, count: int, status: int = 429) -> None:
        """Answer the next ``count`` requests with ``status`` (throttling or a server error)."""
        with self._lock:
            self._failures.extend([status] * count)

    def start(self) -> TargetApp:
        self._server = ThreadingHTTPServer((HOST, self.port), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="target-app", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TargetApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = None
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        status, payload = self._answer(failure, headers, body)
        with self._lock:
            self.requests.append(Received(path, headers, body, status))
        return status, payload

    def _answer(self, failure: int | None, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        if failure is not None:
            return failure, {"message": "Too many requests" if failure == 429 else "Internal error"}
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "missing or wrong bearer token"}
        if not isinstance(body, dict):
            return 400, {"message": "the body must be a JSON object"}
        try:
            return 200, respond(body)
        except ValueError as exc:
            return 400, {"message": str(exc)}


def _handler_for(app: TargetApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, payload = app._handle(self.path, headers, raw)
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_PUT = do_POST

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read app.requests
            return

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fail-first", type=int, default=0, metavar="N", help="fail the first N requests")
    parser.add_argument("--fail-status", type=int, default=429, metavar="STATUS")
    parser.add_argument("--token-env", metavar="VAR", help="require Authorization: Bearer $VAR")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS", help="answer this slowly")
    args = parser.parse_args(argv)
    token = os.environ[args.token_env] if args.token_env else None
    app = TargetApp(token=token, port=args.port, delay_seconds=args.delay).start()
    app.fail_next(args.fail_first, args.fail_status)
    print(f"target app listening on {app.url} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        app.stop()


if __name__ == "__main__":
    main()
