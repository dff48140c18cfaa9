"""The price file of the estimate: USD per 1M tokens per model (editable JSON), the token
assumptions it carries, and how a model id matches an entry (region prefix, version suffix)."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

PRICES_ENV = "EVALPIPE_PRICES"
BUNDLED_PRICES = Path(__file__).resolve().parents[1] / "data" / "prices.json"
PER_TOKENS = 1_000_000  # prices are per 1M tokens
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
            given, paid = _price_value(entry, "input"), _price_value(entry, "output")
            if not isinstance(entry, dict) or given is None or paid is None:
                raise PriceFileError(
                    f'{source}: models[{json.dumps(key)}] must be {{"input": USD, "output": USD}} '
                    "per 1M tokens, each a number >= 0"
                )
            prices[key] = Price(key, given, paid)
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
    values: dict[str, int | float] = {}
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
    return TokenAssumptions(**values)  # type: ignore[arg-type]  # each checked as a number above


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
