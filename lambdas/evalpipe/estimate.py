"""Pre-flight cost estimate of one run, following the practitioner's guide's cost model.

- Response collection = records x (input tokens x input price + output tokens x output price) of the
  model that generates the responses; nothing for precomputed responses (the dataset carries them).
- Evaluation job = records x metrics x (judge input tokens x input price + judge output tokens x
  output price) of the evaluator (judge) model.
- Classic automated jobs (Accuracy / Robustness / Toxicity) have no judge: only response
  collection, once per dataset entry. ``Builtin.Robustness`` re-asks every prompt perturbed
  (``robustnessPerturbations`` in the price file, 5 by default: the user guide lists five kinds of
  perturbation -- lower case, typos, numbers as words, random upper case, whitespace), so that
  entry's inference costs 1 + 5 times as much. A built-in prompt dataset (``Builtin.BoolQ``, ...)
  cannot be measured offline: its row has no number and a note says so (no partial total).

The guide assumes ~1,500 input and ~200 output tokens per record and metric. Here the input side is
measured from the dataset instead: a fixed rubric overhead plus the record's own text (prompt,
response and, for metrics that grade against it, the reference response), counted as characters /
4 because no tokenizer is available offline. A custom metric's overhead is its own instructions.
The assumptions are data (``tokens`` in the price file) and every estimate states them.

Prices come from a JSON file users can edit (``evalpipe/data/prices.json``, shipped with the
functions; ``EVALPIPE_PRICES`` or an explicit path points at another). A model without a price
gets a note and no number: an estimate never makes a price up.

Nothing here raises on a malformed suite or dataset; only an unusable price file raises
(:class:`PriceFileError`). Reading the price file is the only I/O.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path

from evalpipe.dataset import LineSplitter
from evalpipe.validation.facts import DatasetEntryFacts, DatasetKind, JobKind, SuiteFacts, dig
from evalpipe.validation.metrics import (
    BUILTIN_DATASET_PROMPTS,
    JUDGE_BUILTINS,
    REFERENCE_BUILTINS,
    REFERENCE_VARIABLE,
    ROBUSTNESS,
)

PRICES_ENV = "EVALPIPE_PRICES"
BUNDLED_PRICES = Path(__file__).resolve().parent / "data" / "prices.json"
PER_TOKENS = 1_000_000  # prices are per 1M tokens
_TEMPLATE_VARIABLE = re.compile(r"\{\{\s*[A-Za-z_]+\s*\}\}")
# Cross-region inference profiles prefix the model id with a geography: us.amazon.nova-pro-v1:0.
_REGION_PREFIX = re.compile(r"^(?:us|us-gov|eu|apac|ca|jp|au|global)\.(?=[a-z0-9-]+\.)")
# Version and context-window suffixes: -v1:0, -20240307-v1:0, -v1:0:300k, -20240307.
_VERSION_SUFFIX = re.compile(r"(?:-\d{8})?(?:-v\d+(?::\d+)?)?(?::\d+k)?$")


class PriceFileError(ValueError):
    """The price file cannot be read or does not have the documented shape."""


class NoUsdBecause(StrEnum):
    """Why a row has no number (``CostItem.no_usd_because``): a reader fixes only some of these."""

    NO_PRICE = "no_price"  # the model is not in the price file: add it
    NO_MODEL = "no_model"  # the suite names no model for the row
    BUILTIN_DATASET = "builtin_dataset"  # Bedrock's own prompt dataset: not measurable offline
    LIVE_KNOWLEDGE_BASE = "live_knowledge_base"  # retrieval and generation billed by the knowledge base


@dataclass(frozen=True)
class TokenAssumptions:
    """The token counts the estimate assumes where the dataset cannot tell (``tokens`` in the file).

    Attributes
    ----------
    chars_per_token : float
        Characters per token when measuring text (English averages ~4; other scripts use fewer).
    builtin_rubric_tokens : int
        Judge instructions of one built-in metric, per record (the guide's ~1,500 input tokens per
        record and metric less a typical ~300-token record).
    custom_overhead_tokens : int
        What the service adds around a custom metric's own instructions (rating scale, answer format).
    judge_output_tokens : int
        The judge's answer per record and metric (score and explanation): the guide's ~200.
    generated_response_tokens : int
        Length of a response a live model generates, when the dataset has no reference to go by.
    robustness_perturbations : int
        Perturbed copies of each prompt a classic ``Builtin.Robustness`` metric has the model
        answer besides the prompt itself (the user guide's five kinds of perturbation).
    """

    chars_per_token: float = 4.0
    builtin_rubric_tokens: int = 1200
    custom_overhead_tokens: int = 150
    judge_output_tokens: int = 200
    generated_response_tokens: int = 300
    robustness_perturbations: int = 5

    FILE_KEYS = {
        "charsPerToken": "chars_per_token",
        "builtinRubricTokens": "builtin_rubric_tokens",
        "customOverheadTokens": "custom_overhead_tokens",
        "judgeOutputTokens": "judge_output_tokens",
        "generatedResponseTokens": "generated_response_tokens",
        "robustnessPerturbations": "robustness_perturbations",
    }

    def tokens(self, chars: float) -> float:
        """Approximate tokens of ``chars`` characters of text."""
        return chars / self.chars_per_token


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens of one model, and the price-file entry it came from."""

    key: str
    input: float
    output: float

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / PER_TOKENS


def model_key(model_id: str) -> str:
    """The comparable core of a Bedrock model id: no ARN, region prefix or version suffix.

    Examples
    --------
    >>> model_key("us.anthropic.claude-3-haiku-20240307-v1:0")
    'anthropic.claude-3-haiku'
    >>> model_key("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0:300k")
    'amazon.nova-pro'
    """
    key = model_id.strip().lower()
    if key.startswith("arn:"):
        key = key.rsplit("/", 1)[-1]
    key = _REGION_PREFIX.sub("", key)
    return _VERSION_SUFFIX.sub("", key) or key


@dataclass(frozen=True)
class PriceTable:
    """Model prices (USD per 1M tokens) and token assumptions, as read from a price file.

    Attributes
    ----------
    models : Mapping[str, Price]
        Entries by their key in the file.
    source : str
        Where the table came from (shown in every estimate).
    tokens : TokenAssumptions
    currency : str
    """

    models: Mapping[str, Price]
    source: str
    tokens: TokenAssumptions = field(default_factory=TokenAssumptions)
    currency: str = "USD"

    def lookup(self, model_id: str) -> Price | None:
        """The price of ``model_id``: an entry spelled the same (ignoring case), else one with the
        same :func:`model_key`, else None (no guessing across model families or sizes).

        Examples
        --------
        >>> table = PriceTable({"amazon.nova-pro-v1:0": Price("amazon.nova-pro-v1:0", 0.8, 3.2)}, "t")
        >>> table.lookup("us.amazon.nova-pro-v1:0").input, table.lookup("amazon.nova-lite-v1:0")
        (0.8, None)
        """
        wanted = model_id.strip().lower()
        for key, price in self.models.items():
            if key.strip().lower() == wanted:
                return price
        core = model_key(model_id)
        return next((price for key, price in self.models.items() if model_key(key) == core), None)

    @classmethod
    def from_document(cls, document: object, source: str) -> PriceTable:
        """Build the table from a parsed price file.

        Raises
        ------
        PriceFileError
            When the shape is wrong; the message names the file and the offending key.
        """
        if not isinstance(document, dict):
            raise PriceFileError(f"{source}: must be a JSON object with a 'models' object")
        models = document.get("models")
        if not isinstance(models, dict):
            raise PriceFileError(f"{source}: 'models' must be an object of model id -> {{input, output}}")
        prices: dict[str, Price] = {}
        for key, entry in models.items():
            values = [_price_value(entry, side) for side in ("input", "output")]
            if not isinstance(entry, dict) or None in values:
                raise PriceFileError(
                    f'{source}: models[{json.dumps(key)}] must be {{"input": USD, "output": USD}} '
                    "per 1M tokens, each a number >= 0"
                )
            prices[key] = Price(key, values[0], values[1])
        currency = document.get("currency", "USD")
        return cls(
            models=prices,
            source=source,
            tokens=_token_assumptions(document.get("tokens", {}), source),
            currency=currency if isinstance(currency, str) and currency else "USD",
        )


def _price_value(entry: object, side: str) -> float | None:
    value = entry.get(side) if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _token_assumptions(block: object, source: str) -> TokenAssumptions:
    if not isinstance(block, dict):
        raise PriceFileError(f"{source}: 'tokens' must be an object")
    values: dict[str, float] = {}
    for key, value in block.items():
        attribute = TokenAssumptions.FILE_KEYS.get(key)
        if attribute is None:
            known = ", ".join(TokenAssumptions.FILE_KEYS)
            raise PriceFileError(f"{source}: tokens.{key} is not a known assumption (known: {known})")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
            raise PriceFileError(f"{source}: tokens.{key} must be a number >= 0")
        values[attribute] = value
    if values.get("chars_per_token", 1) <= 0:
        raise PriceFileError(f"{source}: tokens.charsPerToken must be greater than 0")
    return TokenAssumptions(**values)


def load_prices(
    path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> PriceTable:
    """Read a price file: ``path`` if given, else ``$EVALPIPE_PRICES`` if set, else the bundled one.

    Raises
    ------
    PriceFileError
        When the file cannot be read, is not JSON, or has the wrong shape.
    """
    environ = os.environ if environ is None else environ
    chosen = path or environ.get(PRICES_ENV) or None
    file = Path(chosen) if chosen else BUNDLED_PRICES
    source = str(file) if chosen else "evalpipe/data/prices.json (bundled)"
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceFileError(f"cannot read price file {file}: {exc}") from exc
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PriceFileError(f"{source}: not valid JSON: {exc}") from exc
    return PriceTable.from_document(document, source)


# --- measuring the dataset --------------------------------------------------------------------


@dataclass
class DatasetMeasure:
    """Character counts of a dataset's records, gathered while streaming (memory stays flat).

    Attributes
    ----------
    records : int
        Lines holding a JSON object.
    skipped : int
        Non-blank lines that are not a JSON object (left out of the estimate).
    prompt_chars, response_chars, reference_chars : int
        Characters of ``prompt``, ``modelResponses[0].response`` and ``referenceResponse``.
    with_reference : int
        Records with a non-blank ``referenceResponse``.
    text_chars : int
        Characters of every string in the records' ``conversationTurns`` (what a RAG judge reads).

    Examples
    --------
    >>> measure = DatasetMeasure.of([b'{"prompt": "hi", "referenceResponse": "hello"}\\n', b"[1]\\n"])
    >>> measure.records, measure.skipped, measure.prompt_chars, measure.reference_chars
    (1, 1, 2, 5)
    """

    records: int = 0
    skipped: int = 0
    prompt_chars: int = 0
    response_chars: int = 0
    reference_chars: int = 0
    with_reference: int = 0
    text_chars: int = 0

    @classmethod
    def of(cls, chunks: Iterable[bytes]) -> DatasetMeasure:
        """Measure a whole dataset given as byte chunks of any size."""
        measure = cls()
        for _ in measure.tap(chunks):
            pass
        return measure

    def tap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass ``chunks`` through unchanged, measuring the lines as they go by.

        Lets one read of the dataset serve both validation and the estimate.
        """
        splitter = LineSplitter()
        for chunk in chunks:
            if not chunk:
                continue
            for line in splitter.feed(chunk):
                self.add_line(line)
            yield chunk
        rest = splitter.rest()
        if rest is not None:
            self.add_line(rest)

    def add_line(self, data: bytes) -> None:
        """Measure one line (blank lines are ignored, undecodable ones skipped)."""
        if not data.strip():
            return
        try:
            record = json.loads(data)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            record = None
        if isinstance(record, dict):
            self.add_record(record)
        else:
            self.skipped += 1

    def add_record(self, record: dict) -> None:
        """Measure one parsed record."""
        self.records += 1
        self.prompt_chars += _chars(record.get("prompt"))
        self.response_chars += _chars(dig(record, "modelResponses", 0, "response"))
        reference = _chars(record.get("referenceResponse"))
        self.reference_chars += reference
        if isinstance(record.get("referenceResponse"), str) and record["referenceResponse"].strip():
            self.with_reference += 1
        if "conversationTurns" in record:
            self.text_chars += _all_text(record["conversationTurns"])


def _chars(value: object) -> int:
    return len(value) if isinstance(value, str) else 0


def _all_text(value: object) -> int:
    """Characters of every string value (not keys) in a JSON value, without recursion."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total


# --- the estimate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CostItem:
    """One row of the estimate.

    Attributes
    ----------
    item : str
        ``Response collection`` or ``Evaluation job``.
    details : str
        The formula with its numbers, as the guide's table shows it.
    usd : float or None
        None when the row cannot be costed (a note says why; see ``no_usd_because``).
    model : str or None
        The model billed, as the suite names it.
    input_tokens, output_tokens : int
        Totals for the run.
    metrics : int
        Judged metrics in this row (0 for response collection).
    no_usd_because : NoUsdBecause or None
        Why ``usd`` is None (None when it is a number).
    """

    item: str
    details: str
    usd: float | None
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    metrics: int = 0
    no_usd_because: NoUsdBecause | None = None

    def as_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["usd"] = _round(self.usd)
        data["no_usd_because"] = None if self.no_usd_because is None else self.no_usd_because.value
        return data


@dataclass(frozen=True)
class Estimate:
    """The estimated cost of one run.

    Attributes
    ----------
    records : int
        Records measured in the dataset.
    metrics : int
        Metrics a judge grades (each costs one judge call per record).
    items : tuple[CostItem, ...]
    per_metric_usd : float or None
        What one more built-in metric would add per run.
    assumptions : tuple[str, ...]
        What the numbers rest on, in words.
    notes : tuple[str, ...]
        What could not be estimated and why (e.g. a model without a price).
    prices_source : str
    currency : str
    """

    records: int
    metrics: int
    items: tuple[CostItem, ...]
    per_metric_usd: float | None
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]
    prices_source: str
    currency: str = "USD"

    @property
    def no_total_because(self) -> tuple[NoUsdBecause, ...]:
        """Why there is no total: the rows' reasons, each once, in row order (empty with a total)."""
        reasons = (item.no_usd_because for item in self.items if item.usd is None)
        return tuple(dict.fromkeys(reason for reason in reasons if reason is not None))

    @property
    def total_usd(self) -> float | None:
        """The sum of the items, or None when any item has no price (no partial totals)."""
        costs = [item.usd for item in self.items]
        return None if None in costs else sum(c for c in costs if c is not None)

    def as_dict(self) -> dict:
        """Plain JSON (numbers, strings, lists, null) for ``--json`` and the run item.

        ``total_usd`` is what the notification shows (``null`` when a row has no number).
        """
        return {
            "total_usd": _round(self.total_usd),
            "currency": self.currency,
            "records": self.records,
            "metrics": self.metrics,
            "items": [item.as_dict() for item in self.items],
            "per_metric_usd": _round(self.per_metric_usd),
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
            "prices": self.prices_source,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@dataclass(frozen=True)
class _Text:
    """Average tokens per record of the parts a judge reads."""

    prompt: float
    response: float
    reference: float
    everything: float  # all text of the record (RAG)


@dataclass
class _Group:
    kind: str  # "built-in" or "custom"
    model: str | None
    metrics: list[str] = field(default_factory=list)
    input_per_record: float = 0.0  # summed over the group's metrics


def estimate_run(suite: object, measure: DatasetMeasure, prices: PriceTable) -> Estimate:
    """Estimate a run of ``suite`` on the measured dataset.

    Parameters
    ----------
    suite : object
        The parsed suite file (any value; a malformed suite gives a partial estimate with notes).
    measure : DatasetMeasure
        The dataset's measurements.
    prices : PriceTable

    Returns
    -------
    Estimate

    Examples
    --------
    >>> judge = {"bedrockEvaluatorModels": [{"modelIdentifier": "amazon.nova-pro-v1:0"}]}
    >>> source = {"precomputedInferenceSource": {"inferenceSourceIdentifier": "a"}}
    >>> suite = {"evaluationConfig": {"automated": {"evaluatorModelConfig": judge,
    ...     "datasetMetricConfigs": [{"metricNames": ["Builtin.Helpfulness"]}]}},
    ...     "inferenceConfig": {"models": [source]}}
    >>> line = b'{"prompt": "' + b"p" * 400 + b'", "modelResponses": [{"response": "' + b"r" * 400 + b'"}]}'
    >>> estimate = estimate_run(suite, DatasetMeasure.of([line]), load_prices())
    >>> estimate.items[1].input_tokens, estimate.items[1].output_tokens  # 1,200 + 800 / 4 ; 200
    (1400, 200)
    >>> estimate.total_usd  # (1,400 x 0.80 + 200 x 3.20) / 1M
    0.00176
    """
    tokens = prices.tokens
    facts = SuiteFacts.from_suite(suite)
    n = measure.records
    notes: list[str] = []
    assumptions = [
        f"tokens ~ characters / {tokens.chars_per_token:g}, measured on the dataset's text "
        "(no tokenizer offline; English averages ~4 characters per token, other scripts fewer)",
    ]
    if measure.skipped:
        notes.append(
            f"{measure.skipped} non-blank line(s) are not JSON objects and were left out: "
            "run `evalpipe validate` first"
        )
    classic = facts.job_kind is JobKind.CLASSIC
    if n == 0 and (not classic or facts.custom_entry is not None):
        notes.append("the dataset has no records: nothing to grade")

    collection, response_tokens = _collection(
        suite, facts, measure, prices, notes=notes, assumptions=assumptions
    )
    if classic:
        return _classic_estimate(
            suite, facts, measure, prices, collection, notes=notes, assumptions=assumptions
        )
    text = _Text(
        prompt=_per_record(tokens, measure.prompt_chars, n),
        response=response_tokens,
        reference=_per_record(tokens, measure.reference_chars, n),
        everything=_per_record(tokens, measure.text_chars, n),
    )
    items = [collection]
    groups = _judge_groups(facts, text, tokens, assumptions, notes)
    for group in groups:
        items.append(_judge_item(group, n, tokens, prices, notes))
    metrics = sum(len(g.metrics) for g in groups)

    per_metric = None
    builtin_model = _first(facts.builtin_evaluators) or _first(facts.custom_evaluators)
    price = prices.lookup(builtin_model) if builtin_model else None
    if price is not None and metrics:
        one = tokens.builtin_rubric_tokens + _record_text(facts, text, reference=False)
        per_metric = price.cost(n * one, n * tokens.judge_output_tokens)
    assumptions.append(
        f"prices: {prices.source}, {prices.currency} per 1M tokens, on-demand; S3 storage and requests "
        "are negligible (< $0.01 per run for datasets under 1 MB) and not included"
    )
    return Estimate(
        records=n,
        metrics=metrics,
        items=tuple(items),
        per_metric_usd=per_metric,
        assumptions=tuple(assumptions),
        notes=tuple(dict.fromkeys(notes)),
        prices_source=prices.source,
        currency=prices.currency,
    )


def _collection(
    suite: object,
    facts: SuiteFacts,
    measure: DatasetMeasure,
    prices: PriceTable,
    *,
    assumptions: list[str],
    notes: list[str],
) -> tuple[CostItem, float]:
    """The response-collection row and the response tokens per record the judge will read."""
    tokens, n = prices.tokens, measure.records
    item = "Response collection"
    if facts.dataset_kind is DatasetKind.PRECOMPUTED_MODEL:
        return (
            CostItem(item, "none: the dataset carries precomputed responses, no model is invoked", 0.0),
            _per_record(tokens, measure.response_chars, n),
        )
    if facts.dataset_kind is DatasetKind.RAG:
        if isinstance(dig(suite, "inferenceConfig", "ragConfigs", 0, "precomputedRagSourceConfig"), dict):
            details = "none: the dataset carries precomputed retrieval results and responses"
            return CostItem(item, details, 0.0), 0.0
        notes.append(
            "knowledge-base retrieval and generation during the job are billed by the knowledge base's "
            "models and vector store: not estimated (use precomputedRagSourceConfig to avoid them)"
        )
        return (
            CostItem(
                item,
                "knowledge base queried live: not estimated",
                None,
                no_usd_because=NoUsdBecause.LIVE_KNOWLEDGE_BASE,
            ),
            0.0,
        )

    model = dig(suite, "inferenceConfig", "models", 0, "bedrockModel", "modelIdentifier")
    model = model if isinstance(model, str) and model else None
    if measure.with_reference:
        out_each = tokens.tokens(measure.reference_chars) / measure.with_reference
        assumptions.append(
            f"generated responses: ~{out_each:,.0f} tokens each, the average length of the dataset's "
            "reference responses"
        )
    else:
        out_each = float(tokens.generated_response_tokens)
        assumptions.append(
            f"generated responses: ~{out_each:,.0f} tokens each (assumed: the dataset has no reference "
            "responses to measure)"
        )
    in_total = tokens.tokens(measure.prompt_chars)
    out_total = n * out_each
    price = _price(model, "target model", prices, notes)
    details = (
        f"{n:,} prompts x ~{_per_record(tokens, measure.prompt_chars, n):,.0f} in + ~{out_each:,.0f} out "
        f"tokens x {model or '(no model in inferenceConfig)'}{_price_text(price)}"
    )
    usd = price.cost(in_total, out_total) if price else None
    return (
        CostItem(
            item,
            details,
            usd,
            model,
            round(in_total),
            round(out_total),
            no_usd_because=_no_usd_because(model, price),
        ),
        out_each,
    )


def _classic_estimate(
    suite: object,
    facts: SuiteFacts,
    measure: DatasetMeasure,
    prices: PriceTable,
    collection: CostItem,
    *,
    notes: list[str],
    assumptions: list[str],
) -> Estimate:
    """A classic job: one response-collection row per dataset entry, no judge (see the module doc)."""
    tokens = prices.tokens
    notes.append(
        "classic automated metrics (Accuracy, Robustness, Toxicity) are computed without a judge "
        "model: no judge cost; the model's inference is the cost"
    )
    items: list[CostItem] = []
    custom = facts.custom_entry
    if custom is not None:
        items.append(_with_perturbations(collection, custom, tokens, assumptions))
    model = dig(suite, "inferenceConfig", "models", 0, "bedrockModel", "modelIdentifier")
    for entry in facts.entries:
        if not entry.builtin:
            continue
        perturbed = f"; each prompt also answered in {tokens.robustness_perturbations} perturbed versions"
        times = f"{perturbed} for {ROBUSTNESS}" if ROBUSTNESS in entry.metrics else ""
        items.append(
            CostItem(
                "Response collection",
                f"{entry.dataset}: a built-in dataset (not measured){times}",
                None,
                model if isinstance(model, str) else None,
                no_usd_because=NoUsdBecause.BUILTIN_DATASET,
            )
        )
        notes.append(
            f"{entry.dataset} is a built-in prompt dataset whose text is not available to measure "
            f"(the service's copy holds {BUILTIN_DATASET_PROMPTS} prompts, per the user guide, of unknown "
            "length): its inference cost is not estimated, so there is no total"
        )
    assumptions.append(
        f"prices: {prices.source}, {prices.currency} per 1M tokens, on-demand; S3 storage and requests "
        "are negligible (< $0.01 per run for datasets under 1 MB) and not included"
    )
    return Estimate(
        records=measure.records,
        metrics=0,
        items=tuple(items),
        per_metric_usd=None,
        assumptions=tuple(assumptions),
        notes=tuple(dict.fromkeys(notes)),
        prices_source=prices.source,
        currency=prices.currency,
    )


def _with_perturbations(
    item: CostItem, entry: DatasetEntryFacts, tokens: TokenAssumptions, assumptions: list[str]
) -> CostItem:
    """The custom dataset's collection row, times (1 + perturbations) when it measures Robustness."""
    if ROBUSTNESS not in entry.metrics:
        return item
    factor = 1 + tokens.robustness_perturbations
    assumptions.append(
        f"{ROBUSTNESS}: every prompt is also answered in {tokens.robustness_perturbations} perturbed "
        "versions (lower case, typos, numbers as words, random upper case, whitespace), each as long "
        "as the original"
    )
    return CostItem(
        item.item,
        f"{item.details} x (1 + {tokens.robustness_perturbations} perturbed prompts for {ROBUSTNESS})",
        None if item.usd is None else item.usd * factor,
        item.model,
        item.input_tokens * factor,
        item.output_tokens * factor,
        no_usd_because=item.no_usd_because,
    )


def _judge_groups(
    facts: SuiteFacts, text: _Text, tokens: TokenAssumptions, assumptions: list[str], notes: list[str]
) -> list[_Group]:
    if facts.job_kind is JobKind.HUMAN:
        notes.append("human evaluation: no judge model is billed; the work team's time is not estimated")
        return []
    custom = {m.name: m for m in facts.custom_metrics if m.name is not None}
    builtin_model = _first(facts.builtin_evaluators) or _first(facts.custom_evaluators)
    custom_model = _first(facts.custom_evaluators) or _first(facts.builtin_evaluators)
    groups: dict[str, _Group] = {}
    for name in dict.fromkeys(n.value for n in facts.metric_names):
        if name in custom:
            instructions = custom[name].instructions or ""
            ratings = sum(len(r.value) for r in custom[name].rating_definitions)
            reference = "{{" + REFERENCE_VARIABLE + "}}" in instructions
            own = tokens.tokens(len(_TEMPLATE_VARIABLE.sub("", instructions)) + ratings)
            per_record = tokens.custom_overhead_tokens + own + _record_text(facts, text, reference)
            group = groups.setdefault("custom", _Group("custom", custom_model))
        elif name in JUDGE_BUILTINS:
            reference = name in REFERENCE_BUILTINS
            per_record = tokens.builtin_rubric_tokens + _record_text(facts, text, reference)
            group = groups.setdefault("built-in", _Group("built-in", builtin_model))
        else:
            notes.append(f"metric {name!r} is neither a judge built-in nor a defined custom metric: left out")
            continue
        group.metrics.append(name)
        group.input_per_record += per_record
    if "built-in" in groups:
        assumptions.append(
            f"built-in metric: ~{tokens.builtin_rubric_tokens:,} tokens of judge instructions per record, "
            "plus the record's prompt and response (and its reference for "
            f"{', '.join(sorted(REFERENCE_BUILTINS))})"
        )
    if "custom" in groups:
        assumptions.append(
            "custom metric: its instructions and rating scale (measured) + "
            f"~{tokens.custom_overhead_tokens:,} tokens the service adds, plus the record's prompt and "
            "response (and its reference when the instructions use {{" + REFERENCE_VARIABLE + "}})"
        )
    if groups:
        assumptions.append(
            f"judge output: ~{tokens.judge_output_tokens:,} tokens per record and metric "
            "(score and explanation)"
        )
    return list(groups.values())


def _record_text(facts: SuiteFacts, text: _Text, reference: bool) -> float:
    if facts.dataset_kind is DatasetKind.RAG:
        return text.everything + text.response
    return text.prompt + text.response + (text.reference if reference else 0.0)


def _judge_item(
    group: _Group, n: int, tokens: TokenAssumptions, prices: PriceTable, notes: list[str]
) -> CostItem:
    count = len(group.metrics)
    in_total = n * group.input_per_record
    out_total = n * count * tokens.judge_output_tokens
    price = _price(group.model, "evaluator model", prices, notes)
    average = group.input_per_record / count
    details = (
        f"{group.kind}: {n:,} records x {count} metric{'s' if count != 1 else ''} x ~{average:,.0f} in "
        f"+ {tokens.judge_output_tokens:,} out tokens x {group.model or '(no evaluator model)'}"
        f"{_price_text(price)}"
    )
    usd = price.cost(in_total, out_total) if price else None
    return CostItem(
        "Evaluation job",
        details,
        usd,
        group.model,
        round(in_total),
        out_total,
        count,
        _no_usd_because(group.model, price),
    )


def _price(model: str | None, role: str, prices: PriceTable, notes: list[str]) -> Price | None:
    if model is None:
        notes.append(f"the suite names no {role}: its cost is not estimated")
        return None
    price = prices.lookup(model)
    if price is None:
        notes.append(f"no price for {model}: add it to prices.json ({prices.source})")
    return price


def _no_usd_because(model: str | None, price: Price | None) -> NoUsdBecause | None:
    if price is not None:
        return None
    return NoUsdBecause.NO_MODEL if model is None else NoUsdBecause.NO_PRICE


def _price_text(price: Price | None) -> str:
    if price is None:
        return " (no price)"
    return f" (${_usd(price.input)} in / ${_usd(price.output)} out per 1M)"


def _usd(value: float) -> str:
    """A price as written: two decimals (0.80), more only when it has them (0.035)."""
    return f"{value:.2f}" if round(value, 2) == value else f"{value:g}"


def _per_record(tokens: TokenAssumptions, chars: int, records: int) -> float:
    return tokens.tokens(chars) / records if records else 0.0


def _first(named: tuple) -> str | None:
    return named[0].value if named else None
