"""Knowledge bases for the emulator's live RAG jobs: registered documents, passages, lexical retrieval.

moto has no Bedrock Knowledge Bases runtime (``Retrieve`` / ``RetrieveAndGenerate``), and moto's
``bedrock-agent`` ``CreateKnowledgeBase`` invents its own ids, while a suite names a fixed one
(``KBASSIST01``). So the emulator keeps its own registry, one per account and Region (on moto's
``bedrock`` backend, see :func:`local.bedrock_emulator.moto_routes.knowledge_bases_for`): a
knowledge base is an id and the documents it was built from. A job naming an id that is not
registered in its account and Region fails, as Bedrock fails a job whose knowledge base does not
exist or cannot be reached.

Ingestion (:meth:`KnowledgeBase.from_documents`): every document is split into passages at
blank lines (a heading-only block joins the block after it; a block of more than
:data:`MAX_PASSAGE_WORDS` words is cut at sentence ends). Each passage carries the document's
metadata (from a ``<file>.metadata.json`` sidecar's ``metadataAttributes``, the convention of a
knowledge base's S3 data source) plus ``x-amz-bedrock-kb-source-uri`` and
``x-amz-bedrock-kb-chunk-id``.

Retrieval (:meth:`KnowledgeBase.retrieve`) stands in for vector search with BM25 over content
words (the offline judge's words minus its stop words, crudely stemmed by :func:`stem`; ``k1`` =
1.2, ``b`` = 0.75, idf over the whole knowledge base). The query is the turn's prompt; in a
multi-turn conversation the earlier prompts count at half weight, so a follow-up ("And for the
Business plan?") keeps its topic.
``vectorSearchConfiguration.filter`` is applied to the passages' metadata before ranking
(:func:`matches_filter`). Passages sharing no query word are never returned; the rest are ranked
by BM25 (ties: document order) and the first ``numberOfResults`` (default 5) are returned. A
result's ``score`` is the idf-weighted share of the query's words found in the passage (0-1).
``overrideSearchType``, reranking and implicit filters do not change the ranking.

Registering is part of the local mode's setup (``local.demo`` registers
``examples/knowledge-bases/<id>/``) or a test's: over HTTP, ``POST
/moto-api/evalpipe/bedrock-emulator/knowledge-bases`` (:func:`handle_control`), in-process
:func:`~local.bedrock_emulator.moto_routes.knowledge_bases_for`. The emulator's ``reset`` keeps
knowledge bases (they are resources, like the documents in S3); moto's reset drops them.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from local.bedrock_emulator.judges.offline import STOP_WORDS, words

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_NUMBER_OF_RESULTS = 5
MAX_PASSAGE_WORDS = 120
HISTORY_WEIGHT = 0.5  # earlier prompts of the conversation, relative to the turn's own
BM25_K1, BM25_B = 1.2, 0.75
DOCUMENT_SUFFIXES = (".md", ".txt")
METADATA_SUFFIX = ".metadata.json"
SOURCE_URI_KEY = "x-amz-bedrock-kb-source-uri"
CHUNK_ID_KEY = "x-amz-bedrock-kb-chunk-id"
CONTROL_ACTION = "knowledge-bases"
_KNOWLEDGE_BASE_ID = re.compile(r"[0-9a-zA-Z]{1,10}")  # the service model's KnowledgeBaseId
_HEADING = re.compile(r"^\s*#{1,6}\s")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Document:
    """One source document of a knowledge base.

    Attributes
    ----------
    id : str
        How results name it (``customDocumentLocation.id``), e.g. ``billing.md``.
    text : str
        Its text (Markdown or plain text).
    metadata : Mapping[str, Any]
        Its metadata attributes (filterable).
    uri : str or None
        Where it lives when that is S3 (``s3://...``): results then carry an S3 location.
    """

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    uri: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The document as the HTTP control takes it."""
        body: dict[str, Any] = {"id": self.id, "text": self.text, "metadata": dict(self.metadata)}
        if self.uri:
            body["uri"] = self.uri
        return body

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Document:
        """The document from the HTTP control's JSON (``id``, ``text``, optional ``metadata``, ``uri``)."""
        identifier, text = body.get("id"), body.get("text")
        metadata = body.get("metadata") or {}
        if not isinstance(identifier, str) or not identifier or not isinstance(text, str):
            raise ValueError("a document needs a non-empty string 'id' and a string 'text'")
        if not isinstance(metadata, Mapping):
            raise ValueError(f"the metadata of document {identifier!r} must be an object")
        uri = body.get("uri")
        return cls(identifier, text, dict(metadata), uri if isinstance(uri, str) and uri else None)


@dataclass(frozen=True)
class Passage:
    """A chunk of a document: what retrieval returns."""

    text: str
    document: Document
    chunk: int  # position in its document, from 0

    @property
    def metadata(self) -> dict[str, Any]:
        """The document's metadata plus the source and chunk ids Bedrock adds."""
        return {
            **self.document.metadata,
            SOURCE_URI_KEY: self.document.uri or self.document.id,
            CHUNK_ID_KEY: f"{self.document.id}#{self.chunk}",
        }

    @property
    def location(self) -> dict[str, Any]:
        """``RetrievalResultLocation``: S3 for an ``s3://`` document, else a custom document id."""
        if self.document.uri and self.document.uri.startswith("s3://"):
            return {"type": "S3", "s3Location": {"uri": self.document.uri}}
        return {"type": "CUSTOM", "customDocumentLocation": {"id": self.document.id}}

    def reference(self) -> dict[str, Any]:
        """The passage as a ``retrievedReferences`` entry of a citation."""
        return {
            "content": {"text": self.text, "type": "TEXT"},
            "location": self.location,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class Hit:
    """A retrieved passage and its score (0-1)."""

    passage: Passage
    score: float

    def as_retrieval_result(self) -> dict[str, Any]:
        """A ``retrievalResults`` entry, as a knowledge base's Retrieve returns it."""
        return {**self.passage.reference(), "score": self.score}


def split_passages(document: Document) -> list[Passage]:
    """The passages of ``document`` (see the module docstring).

    >>> doc = Document("a.md", "# Billing\\n\\nInvoices are emailed monthly.\\n\\nRefunds take 5 days.")
    >>> [p.text for p in split_passages(doc)]
    ['# Billing\\nInvoices are emailed monthly.', 'Refunds take 5 days.']
    """
    blocks = [block.strip() for block in re.split(r"\n\s*\n", document.text.replace("\r\n", "\n"))]
    texts: list[str] = []
    pending_heading = ""
    for block in filter(None, blocks):
        lines = block.splitlines()
        if all(_HEADING.match(line) for line in lines):
            pending_heading = f"{pending_heading}\n{block}".strip()
            continue
        texts += _cut(f"{pending_heading}\n{block}".strip() if pending_heading else block)
        pending_heading = ""
    if pending_heading:
        texts.append(pending_heading)
    return [Passage(text, document, number) for number, text in enumerate(texts)]


def _cut(block: str) -> list[str]:
    """``block`` in pieces of at most MAX_PASSAGE_WORDS words, cut at sentence ends."""
    if len(block.split()) <= MAX_PASSAGE_WORDS:
        return [block]
    pieces: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(block):
        if current and len(" ".join([*current, sentence]).split()) > MAX_PASSAGE_WORDS:
            pieces.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        pieces.append(" ".join(current))
    return pieces


def terms(text: str) -> list[str]:
    """The retrieval terms of ``text``: content words, crudely stemmed (:func:`stem`)."""
    return [stem(word) for word in words(text) if word not in STOP_WORDS]


def stem(word: str) -> str:
    """A crude suffix stemmer, so that "refund" finds "Refunds" and "delete" finds "Deleting".

    Plural ``-ies`` -> ``-y``, ``-es`` / ``-s`` dropped (not ``-ss`` / ``-us``), then ``-ing`` or
    ``-ed`` dropped, then a final ``-e``, each only when at least three letters remain.

    >>> [stem(w) for w in ("refunds", "refund", "deleting", "delete", "policies", "business")]
    ['refund', 'refund', 'delet', 'delet', 'policy', 'business']
    """
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


@dataclass(frozen=True)
class KnowledgeBase:
    """A registered knowledge base: its id and the passages of its documents, in order."""

    knowledge_base_id: str
    passages: tuple[Passage, ...]
    documents: int

    @classmethod
    def from_documents(cls, knowledge_base_id: str, documents: Iterable[Document]) -> KnowledgeBase:
        """Ingest ``documents`` (split into passages) under ``knowledge_base_id``.

        Raises
        ------
        ValueError
            The id does not match the service model's ``KnowledgeBaseId`` (``[0-9a-zA-Z]{1,10}``).
        """
        if not _KNOWLEDGE_BASE_ID.fullmatch(knowledge_base_id):
            raise ValueError(f"knowledge-base id {knowledge_base_id!r} must match [0-9a-zA-Z]{{1,10}}")
        documents = list(documents)
        passages = tuple(passage for document in documents for passage in split_passages(document))
        return cls(knowledge_base_id, passages, len(documents))

    def retrieve(
        self,
        query: str,
        history: Sequence[str] = (),
        *,
        number_of_results: int = DEFAULT_NUMBER_OF_RESULTS,
        metadata_filter: Mapping[str, Any] | None = None,
    ) -> list[Hit]:
        """The best passages for ``query`` (BM25; see the module docstring).

        Parameters
        ----------
        query : str
            The turn's prompt.
        history : Sequence[str]
            The conversation's earlier prompts (half weight).
        number_of_results : int
            How many passages at most (``vectorSearchConfiguration.numberOfResults``).
        metadata_filter : Mapping, optional
            A ``RetrievalFilter`` on the passages' metadata.
        """
        weights: dict[str, float] = {}
        for term in {t for earlier in history for t in terms(earlier)}:
            weights[term] = HISTORY_WEIGHT
        for term in set(terms(query)):
            weights[term] = 1.0
        if not weights or not self.passages:
            return []
        bags = [Counter(terms(passage.text)) for passage in self.passages]
        average = sum(sum(bag.values()) for bag in bags) / len(bags) or 1.0
        frequency = Counter(term for bag in bags for term in bag)
        idf = {
            term: math.log(1 + (len(bags) - frequency[term] + 0.5) / (frequency[term] + 0.5))
            for term in weights
        }
        total = sum(weights[term] * idf[term] for term in weights) or 1.0
        ranked: list[tuple[float, int, float]] = []
        for position, (passage, bag) in enumerate(zip(self.passages, bags, strict=True)):
            if metadata_filter and not matches_filter(metadata_filter, passage.metadata):
                continue
            matched = [term for term in weights if bag[term]]
            if not matched:
                continue
            length = sum(bag.values())
            bm25 = sum(
                weights[term] * idf[term] * bag[term] * (BM25_K1 + 1)
                / (bag[term] + BM25_K1 * (1 - BM25_B + BM25_B * length / average))
                for term in matched
            )  # fmt: skip
            share = sum(weights[term] * idf[term] for term in matched) / total
            ranked.append((bm25, position, share))
        ranked.sort(key=lambda item: (-item[0], item[1]))
        return [
            Hit(self.passages[position], round(share, 4))
            for _, position, share in ranked[: max(0, number_of_results)]
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "knowledgeBaseId": self.knowledge_base_id,
            "documents": self.documents,
            "passages": len(self.passages),
        }


# -- metadata filters (RetrievalFilter) ---------------------------------------------------------


def matches_filter(metadata_filter: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` passes a ``RetrievalFilter`` (a union: one operator per object).

    ``equals`` / ``notEquals`` compare values (numbers as numbers); ``greaterThan`` ...
    ``lessThanOrEquals`` need numbers on both sides; ``in`` / ``notIn`` take a list;
    ``startsWith`` and ``stringContains`` take a string (``stringContains`` also looks into a
    list attribute's strings); ``listContains`` needs a list attribute; ``andAll`` / ``orAll``
    combine filters. A missing attribute matches only ``notEquals`` and ``notIn``.

    >>> matches_filter({"andAll": [{"equals": {"key": "team", "value": "billing"}},
    ...                            {"greaterThan": {"key": "year", "value": 2023}}]},
    ...                {"team": "billing", "year": 2024})
    True
    """
    if "andAll" in metadata_filter:
        return all(matches_filter(item, metadata) for item in metadata_filter["andAll"])
    if "orAll" in metadata_filter:
        return any(matches_filter(item, metadata) for item in metadata_filter["orAll"])
    for operator, attribute in metadata_filter.items():
        test = _OPERATORS.get(operator)
        if test is None or not isinstance(attribute, Mapping):
            return False
        key, value = attribute.get("key"), attribute.get("value")
        if key not in metadata:
            return operator in ("notEquals", "notIn")
        return test(metadata[key], value)
    return False


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _same(left: object, right: object) -> bool:
    a, b = _number(left), _number(right)
    return a == b if a is not None and b is not None else left == right


def _compare(check: Callable[[float, float], bool]) -> Callable[[object, object], bool]:
    def test(actual: object, value: object) -> bool:
        a, b = _number(actual), _number(value)
        return a is not None and b is not None and check(a, b)

    return test


def _contains_string(actual: object, value: object) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(actual, str):
        return value in actual
    return isinstance(actual, list) and any(isinstance(item, str) and value in item for item in actual)


_OPERATORS: dict[str, Callable[[object, object], bool]] = {
    "equals": _same,
    "notEquals": lambda actual, value: not _same(actual, value),
    "greaterThan": _compare(lambda a, b: a > b),
    "greaterThanOrEquals": _compare(lambda a, b: a >= b),
    "lessThan": _compare(lambda a, b: a < b),
    "lessThanOrEquals": _compare(lambda a, b: a <= b),
    "in": lambda actual, value: isinstance(value, list) and any(_same(actual, item) for item in value),
    "notIn": lambda actual, value: isinstance(value, list) and not any(_same(actual, item) for item in value),
    "startsWith": lambda actual, value: (
        isinstance(actual, str) and isinstance(value, str) and actual.startswith(value)
    ),
    "listContains": lambda actual, value: (
        isinstance(actual, list) and any(_same(item, value) for item in actual)
    ),
    "stringContains": _contains_string,
}


# -- the registry and its controls ----------------------------------------------------------------


class KnowledgeBaseRegistry:
    """The knowledge bases of one account and Region (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bases: dict[str, KnowledgeBase] = {}

    def register(self, knowledge_base: KnowledgeBase) -> None:
        """Add ``knowledge_base``, replacing one with the same id (a re-ingestion)."""
        with self._lock:
            self._bases[knowledge_base.knowledge_base_id] = knowledge_base

    def remove(self, knowledge_base_id: str) -> bool:
        with self._lock:
            return self._bases.pop(knowledge_base_id, None) is not None

    def get(self, knowledge_base_id: str) -> KnowledgeBase | None:
        with self._lock:
            return self._bases.get(knowledge_base_id)

    def summary(self) -> list[dict[str, Any]]:
        with self._lock:
            return [base.summary() for _, base in sorted(self._bases.items())]


def read_folder(folder: Path) -> list[Document]:
    """The documents of a folder: every ``*.md`` / ``*.txt`` file (sorted by name), with metadata.

    A file ``<name>.metadata.json`` next to ``<name>`` gives its ``metadataAttributes`` (the
    knowledge-base S3 data source convention); document ids are the file names.

    Raises
    ------
    ValueError
        A metadata file is not a JSON object with an object ``metadataAttributes``.
    """
    documents = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix not in DOCUMENT_SUFFIXES:
            continue
        sidecar = path.with_name(path.name + METADATA_SUFFIX)
        metadata: dict[str, Any] = {}
        if sidecar.exists():
            attributes = json.loads(sidecar.read_text(encoding="utf-8")).get("metadataAttributes")
            if not isinstance(attributes, dict):
                raise ValueError(f"{sidecar}: give {{'metadataAttributes': {{...}}}}")
            metadata = attributes
        documents.append(Document(path.name, path.read_text(encoding="utf-8"), metadata))
    return documents


def folder_payload(root: Path, region: str, account_id: str | None = None) -> dict[str, Any]:
    """The ``knowledge-bases`` control payload registering every ``<root>/<id>/`` folder as ``<id>``."""
    bases = [
        {"knowledgeBaseId": folder.name, "documents": [d.as_json() for d in read_folder(folder)]}
        for folder in sorted(root.iterdir())
        if folder.is_dir()
    ]
    payload: dict[str, Any] = {"region": region, "knowledgeBases": bases}
    if account_id:
        payload["accountId"] = account_id
    return payload


def handle_control(
    payload: Mapping[str, Any],
    registry_for: Callable[[str, str], KnowledgeBaseRegistry],
    default_account: str,
) -> tuple[int, dict[str, Any]]:
    """``POST /moto-api/evalpipe/bedrock-emulator/knowledge-bases``: register, remove, list.

    Payload: ``{"region", "accountId"?, "knowledgeBases"?: [{"knowledgeBaseId", "documents":
    [{"id", "text", "metadata"?, "uri"?}]}], "delete"?: ["<id>", ...]}``. Answers the
    knowledge bases of that account and Region (``{"knowledgeBases": [{"knowledgeBaseId",
    "documents", "passages"}]}``); a bad payload is a 400 with ``{"message"}``.
    """
    try:
        region = payload.get("region") or "us-east-1"
        account = payload.get("accountId") or default_account
        if not isinstance(region, str) or not isinstance(account, str):
            raise ValueError("region and accountId must be strings")
        registry = registry_for(account, region)
        built = [
            KnowledgeBase.from_documents(
                entry["knowledgeBaseId"], map(Document.from_json, entry["documents"])
            )
            for entry in payload.get("knowledgeBases") or []
        ]
        for knowledge_base in built:
            registry.register(knowledge_base)
        for knowledge_base_id in payload.get("delete") or []:
            registry.remove(str(knowledge_base_id))
    except (KeyError, TypeError, ValueError) as error:
        return 400, {"message": f"bad {CONTROL_ACTION} payload: {error!r}"}
    return 200, {"knowledgeBases": registry.summary()}
