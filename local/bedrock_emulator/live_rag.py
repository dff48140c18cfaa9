"""Live knowledge-base RAG jobs (``inferenceConfig.ragConfigs[0].knowledgeBaseConfig``), offline.

For every conversation turn the job queries the knowledge base the way the request says, then
scores the turn like a precomputed RAG turn (:func:`local.bedrock_emulator.rag.score_rag_record`):

- ``retrieveConfig`` (retrieve only, 1 turn): the passages of
  :meth:`~local.bedrock_emulator.knowledge_bases.KnowledgeBase.retrieve` (``numberOfResults``,
  default 5, and ``filter`` of ``knowledgeBaseRetrievalConfiguration.vectorSearchConfiguration``).
- ``retrieveAndGenerateConfig`` ``KNOWLEDGE_BASE`` (1-5 turns): the same retrieval
  (``knowledgeBaseConfiguration.retrievalConfiguration``), then an **extractive, deterministic
  answer** in place of the generator model (no model is called): the (at most
  :data:`ANSWER_SENTENCES`) sentences of the retrieved passages that share the most content words
  with the prompt, in retrieval order, each cited with the passage it comes from
  (``generatedResponsePart.textResponsePart`` with its ``span``, ``retrievedReferences`` = the
  passage). ``generationConfiguration.kbInferenceConfig.textInferenceConfig.maxTokens`` caps the
  words. Nothing retrieved: :data:`NO_ANSWER`, without citations.
- ``retrieveAndGenerateConfig`` ``EXTERNAL_SOURCES``: the one source document (an S3 object read
  from the emulated S3, or ``byteContent`` whose ``data`` is base64 on the wire) is split into
  passages and ranked like a knowledge base's (top 5), then answered the same way.

Prompt templates, guardrails, orchestration (query decomposition), search type, reranking,
implicit filters and ``additionalModelRequestFields`` are accepted and have no effect. Every
explanation ends with :data:`OFFLINE_NOTE`, so no score is mistaken for the real service's.

The output line (this emulator's assumption; the service does not document the live RAG layout)
keeps each input turn unchanged under ``inputRecord`` and puts what the job produced beside it::

    {"conversationTurns": [{"inputRecord": <the input turn>,
                            "output": {"text": ..., "modelIdentifier": <modelArn>,
                                       "knowledgeBaseIdentifier": <knowledgeBaseId>,
                                       "retrievedPassages": {"retrievalResults": [...]},
                                       "citations": [...]},
                            "results": [...]}, ...]}

(retrieve only: ``output`` holds ``knowledgeBaseIdentifier`` and ``retrievedPassages``; external
sources: no ``knowledgeBaseIdentifier``). Results go under the reported RAG layout
``<prefix>/<job>/<job-id>/inference_configs/0/datasets/<dataset>/<uuid>_output.jsonl``
(local.bedrock_emulator.outputs).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.bedrock_emulator.knowledge_bases import (
    DEFAULT_NUMBER_OF_RESULTS,
    Document,
    Hit,
    KnowledgeBase,
    terms,
)
from local.bedrock_emulator.rag import prompted_turns, rag_turn, score_rag_record, text_of

if TYPE_CHECKING:
    from local.bedrock_emulator.judges.base import Judge, MetricSpec

RETRIEVE_ONLY = "retrieveSourceConfig"  # the plan's RAG kinds, shared with precomputed RAG jobs
RETRIEVE_AND_GENERATE = "retrieveAndGenerateSourceConfig"
ANSWER_SENTENCES = 3
MIN_SENTENCE_WORDS = 3
EXTERNAL_SOURCE_RESULTS = DEFAULT_NUMBER_OF_RESULTS
# What a knowledge base answers when retrieval finds nothing (the service's default wording).
NO_ANSWER = "Sorry, I am unable to assist you with this request."
OFFLINE_NOTE = (
    "[offline emulator: passages retrieved by lexical ranking{answer}, not by the knowledge base "
    "and model of the request]"
)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
_HEADING = re.compile(r"^\s*#{1,6}\s")
_MARKUP = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+)")


class LiveRagError(Exception):
    """The job cannot run; ``messages`` become its ``failureMessages``."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def live_source(config: Mapping[str, Any]) -> tuple[str, str]:
    """``(rag kind, source id)`` of a ``knowledgeBaseConfig``: the kind decides turns and metrics,
    the source id names the output directory (``models/<source id>/``).

    Raises
    ------
    LiveRagError
        ``retrieveAndGenerateConfig.type`` does not come with its configuration.

    Examples
    --------
    >>> live_source({"retrieveConfig": {"knowledgeBaseId": "KB1", "knowledgeBaseRetrievalConfiguration": {}}})
    ('retrieveSourceConfig', 'KB1')
    """
    retrieve = config.get("retrieveConfig")
    if isinstance(retrieve, Mapping):
        return RETRIEVE_ONLY, retrieve["knowledgeBaseId"]
    generate = config["retrieveAndGenerateConfig"]
    kind = generate["type"]
    member = "knowledgeBaseConfiguration" if kind == "KNOWLEDGE_BASE" else "externalSourcesConfiguration"
    inner = generate.get(member)
    if not isinstance(inner, Mapping):
        raise LiveRagError([f"retrieveAndGenerateConfig.{member} is required when type is {kind}."])
    source = inner["knowledgeBaseId"] if kind == "KNOWLEDGE_BASE" else inner["modelArn"]
    return RETRIEVE_AND_GENERATE, source


def live_turn_problems(record: dict[str, Any], where: str, retrieve_only: bool) -> list[str]:
    """Why the service would reject a live RAG dataset line (empty when it is usable)."""
    turns, problems = prompted_turns(record, where, retrieve_only)
    for number, turn in enumerate(turns):
        if "output" in turn:
            return [
                f"The record in {where} carries conversationTurns[{number}].output, but the job queries "
                "the knowledge base live: remove output or use precomputedRagSourceConfig."
            ]
    return problems


@dataclass(frozen=True)
class LiveRag:
    """What one live RAG job queries and how: resolved once per job by :meth:`prepare`."""

    knowledge_base: KnowledgeBase
    knowledge_base_id: str | None  # None for external sources
    model: str | None  # the generator; None for retrieve only
    number_of_results: int
    metadata_filter: Mapping[str, Any] | None
    max_words: int | None

    @classmethod
    def prepare(
        cls,
        config: Mapping[str, Any],
        lookup: Callable[[str], KnowledgeBase | None],
        read_object: Callable[[str, str], bytes],
        region: str,
    ) -> LiveRag:
        """Resolve the knowledge base (or the external source) a ``knowledgeBaseConfig`` names.

        Parameters
        ----------
        config : Mapping
            The request's ``knowledgeBaseConfig``.
        lookup : callable
            ``lookup(knowledge_base_id)``: the registered knowledge base of the job's account and
            Region, or None.
        read_object : callable
            ``read_object(bucket, key) -> bytes`` from the emulated S3 (any exception = unreadable).
        region : str
            Named in failure messages.

        Raises
        ------
        LiveRagError
            The knowledge base is not registered, or the external source cannot be read as text.
        """
        retrieve = config.get("retrieveConfig")
        if isinstance(retrieve, Mapping):
            return cls._from_knowledge_base(
                retrieve["knowledgeBaseId"], retrieve.get("knowledgeBaseRetrievalConfiguration"),
                None, None, lookup, region,
            )  # fmt: skip
        generate = config["retrieveAndGenerateConfig"]
        if generate["type"] == "KNOWLEDGE_BASE":
            inner = generate["knowledgeBaseConfiguration"]
            return cls._from_knowledge_base(
                inner["knowledgeBaseId"], inner.get("retrievalConfiguration"), inner["modelArn"],
                inner.get("generationConfiguration"), lookup, region,
            )  # fmt: skip
        external = generate["externalSourcesConfiguration"]
        documents = [_external_document(source, read_object) for source in external["sources"]]
        return cls(
            KnowledgeBase.from_documents("external", documents),
            None,
            external["modelArn"],
            EXTERNAL_SOURCE_RESULTS,
            None,
            _max_words(external.get("generationConfiguration")),
        )

    @classmethod
    def _from_knowledge_base(  # noqa: PLR0917 - private, the two knowledge-base callers
        cls,
        knowledge_base_id: str,
        retrieval: Mapping[str, Any] | None,
        model: str | None,
        generation: Mapping[str, Any] | None,
        lookup: Callable[[str], KnowledgeBase | None],
        region: str,
    ) -> LiveRag:
        knowledge_base = lookup(knowledge_base_id)
        if knowledge_base is None:
            raise LiveRagError(
                [
                    f"The knowledge base {knowledge_base_id} was not found in {region}, or the service "
                    "role may not query it (bedrock:Retrieve / bedrock:RetrieveAndGenerate on "
                    f"knowledge-base/{knowledge_base_id})."
                ]
            )
        search = (retrieval or {}).get("vectorSearchConfiguration") or {}
        return cls(
            knowledge_base,
            knowledge_base_id,
            model,
            search.get("numberOfResults") or DEFAULT_NUMBER_OF_RESULTS,
            search.get("filter"),
            _max_words(generation),
        )

    @property
    def source_id(self) -> str:
        """The ``modelIdentifier`` the scorer records: the knowledge base, else the model."""
        return self.knowledge_base_id or self.model or ""

    def turn_output(self, prompt: str, history: list[str]) -> dict[str, Any]:
        """What the job produces for one turn (see the module docstring)."""
        hits = self.knowledge_base.retrieve(
            prompt, history, number_of_results=self.number_of_results, metadata_filter=self.metadata_filter
        )
        output: dict[str, Any] = {}
        if self.model is not None:
            text, citations = extractive_answer(prompt, hits, self.max_words)
            output.update(text=text, modelIdentifier=self.model)
        if self.knowledge_base_id is not None:
            output["knowledgeBaseIdentifier"] = self.knowledge_base_id
        output["retrievedPassages"] = {"retrievalResults": [hit.as_retrieval_result() for hit in hits]}
        if self.model is not None:
            output["citations"] = citations
        return output

    def output_line(
        self,
        judge: Judge,
        metrics: tuple[MetricSpec, ...],
        record: dict[str, Any],
        score_record: Callable[[Judge, tuple[MetricSpec, ...], dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        """One output line: every turn queried, then scored as a precomputed RAG turn would be."""
        turns = record["conversationTurns"]
        outputs = []
        for number, turn in enumerate(turns):
            history = [text_of(earlier.get("prompt")) for earlier in turns[:number]]
            outputs.append(self.turn_output(text_of(turn.get("prompt")), history))
        answered = {
            **record,
            "conversationTurns": [{**t, "output": o} for t, o in zip(turns, outputs, strict=True)],
        }
        scored = score_rag_record(judge, metrics, answered, self.source_id, score_record)
        answer = "" if self.model is None else f" and answered extractively in place of {self.model}"
        note = OFFLINE_NOTE.format(answer=answer)
        line_turns = []
        for turn, output, result in zip(turns, outputs, scored["conversationTurns"], strict=True):
            for score in result["results"]:
                for detail in score.get("evaluatorDetails") or []:
                    detail["explanation"] = f"{detail.get('explanation') or ''} {note}".strip()
            line_turns.append(rag_turn(turn, output, result["results"]))
        return {"conversationTurns": line_turns}


def extractive_answer(prompt: str, hits: list[Hit], max_words: int | None = None) -> tuple[str, list[dict]]:
    """The offline stand-in's answer to ``prompt`` from ``hits``, and its citations.

    The sentences of the passages that share the most retrieval terms with the prompt (at most
    :data:`ANSWER_SENTENCES`, each of :data:`MIN_SENTENCE_WORDS` words or more; Markdown headings
    skipped, list markers dropped), ordered by passage rank then position; without any overlap, the
    top passage's first sentence. Each sentence is cited with its passage.

    >>> from local.bedrock_emulator.knowledge_bases import Passage
    >>> doc = Document("faq.md", "Refunds take five business days. Our office is in Lyon.")
    >>> hits = [Hit(Passage(doc.text, doc, 0), 1.0)]
    >>> text, citations = extractive_answer("How long do refunds take?", hits)
    >>> text, citations[0]["generatedResponsePart"]["textResponsePart"]["span"]
    ('Refunds take five business days.', {'start': 0, 'end': 32})
    """
    if not hits:
        return NO_ANSWER, []
    asked = set(terms(prompt))
    candidates = []
    for rank, hit in enumerate(hits):
        for position, match in enumerate(_SENTENCE.finditer(hit.passage.text)):
            if _HEADING.match(match.group(0)):
                continue
            sentence = _MARKUP.sub("", match.group(0)).strip()
            if len(sentence.split()) < MIN_SENTENCE_WORDS:
                continue
            overlap = len(set(terms(sentence)) & asked)
            candidates.append((overlap, rank, position, sentence, hit))
    relevant = [c for c in candidates if c[0] > 0]
    chosen = sorted(relevant, key=lambda c: (-c[0], c[1], c[2]))[:ANSWER_SENTENCES] or candidates[:1]
    if not chosen:
        return NO_ANSWER, []
    chosen.sort(key=lambda c: (c[1], c[2]))
    text, citations = "", []
    remaining = max_words
    for _, _, _, whole, hit in chosen:
        sentence = whole
        if remaining is not None:
            kept = whole.split()[:remaining]
            sentence, remaining = " ".join(kept), remaining - len(kept)
            if not sentence:
                break
        start = len(text) + (1 if text else 0)
        text = f"{text} {sentence}" if text else sentence
        citations.append(
            {
                "generatedResponsePart": {
                    "textResponsePart": {"text": sentence, "span": {"start": start, "end": len(text)}}
                },
                "retrievedReferences": [hit.passage.reference()],
            }
        )
    return text, citations


def _max_words(generation: Mapping[str, Any] | None) -> int | None:
    config = (generation or {}).get("kbInferenceConfig") or {}
    limit = (config.get("textInferenceConfig") or {}).get("maxTokens")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None


def _external_document(source: Mapping[str, Any], read_object: Callable[[str, str], bytes]) -> Document:
    """The text of one external source: an S3 object, or ``byteContent`` (base64 on the wire)."""
    location = (source.get("s3Location") or {}).get("uri")
    if source.get("sourceType") == "S3" and isinstance(location, str):
        bucket, _, key = location.removeprefix("s3://").partition("/")
        try:
            data = read_object(bucket, key)
        except Exception as error:  # the store's missing-object errors, whatever their type
            why = getattr(error, "what", type(error).__name__)
            raise LiveRagError(
                [
                    f"Unable to read the external source {location}: {why}. Check that the object exists "
                    "and that the service role has s3:GetObject on it."
                ]
            ) from error
        return Document(location, _text(data, location), {}, location)
    content = source.get("byteContent") or {}
    identifier = content.get("identifier") or "byteContent"
    try:
        data = base64.b64decode(content.get("data") or "", validate=True)
    except (binascii.Error, ValueError) as error:
        raise LiveRagError(
            [f"The byteContent data of the external source {identifier} is not base64."]
        ) from error
    return Document(identifier, _text(data, identifier), {})


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LiveRagError(
            [
                f"The external source {name} is not UTF-8 text; the evalpipe local emulator reads "
                "text documents only."
            ]
        ) from error
