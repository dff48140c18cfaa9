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

import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from evalpipe.estimate.prices import NoUsdBecause, Price, PriceTable, TokenAssumptions
from evalpipe.suite.facts import DatasetEntryFacts, DatasetKind, JobKind, SuiteFacts, dig
from evalpipe.suite.metrics import (
    BUILTIN_DATASET_PROMPTS,
    JUDGE_BUILTINS,
    REFERENCE_BUILTINS,
    REFERENCE_VARIABLE,
    ROBUSTNESS,
)

if TYPE_CHECKING:
    from evalpipe.estimate.measure import DatasetMeasure

# A custom metric's template variables ({{prompt}}, ...) are replaced by the record: not its overhead.
_TEMPLATE_VARIABLE = re.compile(r"\{\{\s*[A-Za-z_]+\s*\}\}")


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


def money(usd: float | None) -> str:
    """An amount as the CLI shows it: ``$1.23``, ``< $0.01`` for a positive amount under a cent,
    ``no price`` for None (``evalpipe estimate``, ``evalpipe preview``).

    Examples
    --------
    >>> money(1234.5), money(0.004), money(0.0), money(None)
    ('$1,234.50', '< $0.01', '$0.00', 'no price')
    """
    if usd is None:
        return "no price"
    if 0 < usd < 0.005:
        return "< $0.01"
    return f"${usd:,.2f}"


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
    >>> from evalpipe.estimate.measure import DatasetMeasure
    >>> from evalpipe.estimate.prices import load_prices
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
