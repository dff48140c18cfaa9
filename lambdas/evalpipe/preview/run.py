"""Running a preview: every (record, custom metric) pair through the judge model's ``Converse``,
each answer mapped onto the metric's scale, and what the calls cost.

The Converse client is injected (a boto3 ``bedrock-runtime`` client, a botocore ``Stubber``'s, or
any object with a ``converse(**request)`` method). Each call sends one user message, the judge
prompt (:mod:`evalpipe.preview.prompt`), with temperature 0 and :data:`MAX_TOKENS`, and nothing else:
what a call costs is what Bedrock's ``usage`` reports, priced like ``evalpipe estimate`` prices the
judge (:class:`~evalpipe.estimate.prices.PriceTable`). A call that fails for good (after the
client's own retries) is recorded with its error; the others go on.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from evalpipe.preview.answer import Judgement, read_answer
from evalpipe.preview.prompt import JudgePrompt, Sample, judge_prompt, samples_of
from evalpipe.suite.facts import dig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    from evalpipe.dataset import RawLine
    from evalpipe.estimate.prices import PriceTable
    from evalpipe.preview.metrics import CustomMetric, PreviewPlan

MAX_TOKENS = 1024  # the judge's answer: reasoning and one rating
TEMPERATURE = 0.0  # the same answer for the same prompt, as far as the model allows
DEFAULT_RECORDS = 5


class ConverseClient(Protocol):
    """The port: Bedrock Runtime's ``Converse`` (a boto3 ``bedrock-runtime`` client has it)."""

    def converse(self, **request: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Scored:
    """One judge call: a metric on a sample, and what came back.

    Attributes
    ----------
    metric : str
    sample : Sample
    prompt : JudgePrompt
        What was sent (with what rendering found: empty and unknown variables).
    answer : str
        The judge's text ("" when the call failed).
    judgement : Judgement or None
        The answer on the scale; None when the call failed.
    error : str or None
        Why the call failed (the client's error, after its retries).
    input_tokens, output_tokens : int
        Bedrock's ``usage`` of the call (0 when it failed or reported none).
    """

    metric: str
    sample: Sample
    prompt: JudgePrompt
    answer: str = ""
    judgement: Judgement | None = None
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class PreviewCost:
    """What the preview's judge calls cost.

    Attributes
    ----------
    calls : int
        Calls that answered (failed calls report no usage).
    input_tokens, output_tokens : int
        Bedrock's ``usage``, summed.
    usd : float or None
        At the price file's on-demand prices; None when the judge model has no price.
    price_source : str
    """

    calls: int
    input_tokens: int
    output_tokens: int
    usd: float | None
    price_source: str
    currency: str = "USD"


@dataclass(frozen=True)
class Preview:
    """A preview's results, in record order and then the suite's metric order."""

    judge_model: str
    metrics: tuple[str, ...]
    results: tuple[Scored, ...]
    cost: PreviewCost
    records: int

    @property
    def failed(self) -> tuple[Scored, ...]:
        return tuple(result for result in self.results if result.error is not None)

    @property
    def unmappable(self) -> tuple[Scored, ...]:
        return tuple(
            r for r in self.results if r.judgement is not None and r.judgement.unmappable is not None
        )


@dataclass(frozen=True)
class Skipped:
    """A dataset line the preview could not read as a record."""

    line: int
    reason: str


def first_records(
    lines: Iterable[RawLine], limit: int, skipped: list[Skipped] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The first ``limit`` records of a JSONL dataset as ``(line number, record)``; reading stops there.

    Blank lines are passed over; lines that are not a JSON object go to ``skipped`` (run
    ``evalpipe validate`` for the full check).

    Examples
    --------
    >>> from evalpipe.dataset import iter_raw_lines
    >>> skipped = []
    >>> lines = iter_raw_lines([b'{"prompt": "a"}\\n\\n[1]\\n{"prompt": "b"}\\n{}\\n'])
    >>> list(first_records(lines, 2, skipped))
    [(1, {'prompt': 'a'}), (4, {'prompt': 'b'})]
    >>> skipped
    [Skipped(line=3, reason='not a JSON object')]
    """
    taken = 0
    for raw in lines:
        if taken >= limit:
            return
        if not raw.data.strip():
            continue
        try:
            record = json.loads(raw.data)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            record = None
        if not isinstance(record, dict):
            if skipped is not None:
                skipped.append(Skipped(raw.number, "not a JSON object"))
            continue
        taken += 1
        yield raw.number, record


def converse_request(model_id: str, prompt: str) -> dict[str, Any]:
    """The exact ``Converse`` request of one judge call.

    Examples
    --------
    >>> converse_request("amazon.nova-pro-v1:0", "Rate this.")["inferenceConfig"]
    {'maxTokens': 1024, 'temperature': 0.0}
    """
    return {
        "modelId": model_id,
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
        "inferenceConfig": {"maxTokens": MAX_TOKENS, "temperature": TEMPERATURE},
    }


def run_preview(
    plan: PreviewPlan,
    records: Iterable[tuple[int, Mapping[str, object]]],
    client: ConverseClient,
    *,
    judge_model: str,
    prices: PriceTable,
    metrics: Sequence[str] | None = None,
    workers: int = 1,
    on_result: Callable[[Scored], None] | None = None,
) -> Preview:
    """Judge ``records`` on the plan's custom metrics.

    Parameters
    ----------
    plan : PreviewPlan
        The suite's custom metrics (:func:`~evalpipe.preview.metrics.plan_of`).
    records : iterable of (line number, record)
        The dataset records to preview, already limited to the few wanted.
    client : ConverseClient
    judge_model : str
        The model to call (the suite's evaluator, or a ``--judge`` override).
    prices : PriceTable
    metrics : sequence of str, optional
        Only these custom metrics (default: every custom metric the job scores).
    workers : int
        Calls in flight at once (results keep their order whatever it is).
    on_result : callable, optional
        Told of each call as it finishes (progress display).
    """
    chosen = [m for m in plan.custom_metrics if metrics is None or m.name in metrics]
    jobs: list[tuple[CustomMetric, Sample]] = []
    count = 0
    for line, record in records:
        count += 1
        for sample in samples_of(record, line, rag=plan.is_rag):
            jobs += [(metric, sample) for metric in chosen]

    def judge(job: tuple[CustomMetric, Sample]) -> Scored:
        scored = _judge_once(client, judge_model, *job)
        if on_result is not None:
            on_result(scored)
        return scored

    if workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = tuple(pool.map(judge, jobs))
    else:
        results = tuple(judge(job) for job in jobs)
    return Preview(
        judge_model, tuple(m.name for m in chosen), results, _cost(results, judge_model, prices), count
    )


def _judge_once(client: ConverseClient, model_id: str, metric: CustomMetric, sample: Sample) -> Scored:
    prompt = judge_prompt(metric, sample)
    try:
        response = client.converse(**converse_request(model_id, prompt.text))
    except Exception as error:  # the port's errors are the adapter's: record them, go on with the rest
        return Scored(metric.name, sample, prompt, error=_describe(error))
    blocks = dig(response, "output", "message", "content")
    texts = [dig(block, "text") for block in (blocks if isinstance(blocks, list) else [])]
    answer = "".join(text for text in texts if isinstance(text, str))
    usage = dig(response, "usage")
    return Scored(
        metric.name,
        sample,
        prompt,
        answer=answer,
        judgement=read_answer(answer, metric.rating_scale),
        input_tokens=_tokens(usage, "inputTokens"),
        output_tokens=_tokens(usage, "outputTokens"),
    )


def _cost(results: Sequence[Scored], model_id: str, prices: PriceTable) -> PreviewCost:
    answered = [r for r in results if r.error is None]
    input_tokens = sum(r.input_tokens for r in answered)
    output_tokens = sum(r.output_tokens for r in answered)
    price = prices.lookup(model_id)
    usd = price.cost(input_tokens, output_tokens) if price is not None else None
    return PreviewCost(len(answered), input_tokens, output_tokens, usd, prices.source, prices.currency)


def _describe(error: Exception) -> str:
    # botocore's ClientError carries the service's code and message; other errors their text.
    details = getattr(error, "response", None)
    code = dig(details, "Error", "Code")
    message = dig(details, "Error", "Message")
    if isinstance(code, str):
        return f"{code}: {message}" if isinstance(message, str) and message else code
    return f"{type(error).__name__}: {error}"


def _tokens(usage: object, key: str) -> int:
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
