"""The OpenAI-compatible judge against a tiny chat-completions server on 127.0.0.1 (bounded: one
thread, short timeouts, shut down after each test), alone and behind an emulated job."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.bedrock_emulator.judges import OpenAICompatibleJudge
from local.bedrock_emulator.judges.base import BUILTIN_SCALES, MetricSpec, render_prompt

RECORD = {
    "prompt": "What is the capital of France?",
    "referenceResponse": "Paris",
    "modelResponses": [{"response": "Paris.", "modelIdentifier": "my-app-v1"}],
}


class ChatServer:
    """Answers every chat completion with ``answer``; keeps the requests it received."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                outer.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                payload = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": outer.answer}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    with ChatServer('{"explanation": "Names the capital.", "rating": "Correct"}') as server:
        yield server


@pytest.fixture
def openai_judge_env(chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> ChatServer:
    """EVALPIPE_JUDGE=openai pointed at the local chat server."""
    monkeypatch.setenv("EVALPIPE_JUDGE", "openai")
    monkeypatch.setenv("EVALPIPE_OPENAI_BASE_URL", chat_server.url)
    monkeypatch.setenv("EVALPIPE_OPENAI_MODEL", "qwen2.5")
    return chat_server


def test_openai_judge_posts_the_prompt_and_reads_the_rating(chat_server):
    # Given a judge pointed at the local server, with an API key
    judge = OpenAICompatibleJudge(chat_server.url, "qwen2.5", api_key="sk-local", timeout=5)
    metric = MetricSpec(
        "Builtin.Correctness", "amazon.nova-pro-v1:0", None, BUILTIN_SCALES["Builtin.Correctness"]
    )

    # When it scores one record
    result = judge.score(metric, RECORD)

    # Then one chat completion went to {base}/chat/completions with the rendered prompt
    assert result == (1.0, "Names the capital.")
    (sent,) = chat_server.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["auth"] == "Bearer sk-local"
    assert sent["body"] == {
        "model": "qwen2.5",
        "messages": [{"role": "user", "content": render_prompt(metric, RECORD)}],
        "temperature": 0,
    }


def test_emulated_job_scored_by_the_openai_judge(bedrock, dataset, job_request, s3_results, openai_judge_env):
    # Given EVALPIPE_JUDGE=openai pointing at the local server, and a one-record dataset
    dataset(records=[RECORD])

    # When a job with one built-in metric completes
    arn = bedrock.create_evaluation_job(**job_request(metrics=["Builtin.Correctness"]))["jobArn"]
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"

    # Then the score and the judge's identity come from the server's answer
    (output,) = s3_results.outputs()
    (line,) = s3_results.lines(output)
    (score,) = line["automatedEvaluationResult"]["scores"]
    assert score == {
        "metricName": "Builtin.Correctness",
        "result": 1.0,
        "evaluatorDetails": [
            {"modelIdentifier": "openai-compatible/qwen2.5", "explanation": "Names the capital."}
        ],
    }


def test_unreachable_judge_fails_the_job(bedrock, dataset, job_request, monkeypatch):
    # Given an OpenAI-compatible judge on a port nothing listens on (a closed server)
    with ChatServer("") as closed:
        url = closed.url
    monkeypatch.setenv("EVALPIPE_JUDGE", "openai")
    monkeypatch.setenv("EVALPIPE_OPENAI_BASE_URL", url)
    monkeypatch.setenv("EVALPIPE_OPENAI_MODEL", "qwen2.5")
    monkeypatch.setenv("EVALPIPE_JUDGE_TIMEOUT", "2")
    dataset()

    # When a job runs; Then it fails, saying the evaluator could not score
    arn = bedrock.create_evaluation_job(**job_request(metrics=["Builtin.Correctness"]))["jobArn"]
    job = bedrock.get_evaluation_job(jobIdentifier=arn)
    assert job["status"] == "Failed"
    assert job["failureMessages"][0].startswith(
        "The evaluator model could not score the metric Builtin.Correctness"
    )
