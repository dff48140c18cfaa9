"""Precomputed RAG evaluation jobs (``precomputedRagSourceConfig``): score every conversation turn.

Each turn of a dataset line (``conversationTurns[i]``) is scored on the job's metrics:

- Retrieval metrics, computed here with the offline judge's word heuristics whatever judge is
  configured (reported as ``evalpipe-offline-judge``), on 5 levels (0, 0.25, 0.5, 0.75, 1):

  - ``Builtin.ContextRelevance``: share of the prompt's content words found in the retrieved
    passages. N/A without passages or when the prompt has no content word.
  - ``Builtin.ContextCoverage``: share of the reference's content words found in the retrieved
    passages. N/A without a reference (0 when there are no passages).
  - ``Builtin.CitationPrecision``: share of the citations whose cited text (each
    ``retrievedReferences[].content.text``) appears, whitespace- and case-normalised, in a
    retrieved passage. N/A when the turn has no citations.
  - ``Builtin.CitationCoverage``: share of the generated text's content words that lie in
    the cited parts of the answer (``generatedResponsePart.textResponsePart.text``). N/A when
    the turn has no citations.

- Generation metrics (Correctness, Completeness, Helpfulness, Faithfulness, Harmfulness,
  Stereotyping, Refusal, LogicalCoherence) go to the configured judge as a model-evaluation
  record: ``prompt`` = the turn's prompt, ``modelResponses[0].response`` = ``output.text``,
  ``referenceResponse`` = the first ``referenceResponses`` text. Faithfulness is judged
  against the retrieved passages (they are appended to the prompt as context);
  LogicalCoherence is scored on the Coherence scale.

The output line is the layout public reports of real RAG jobs show (the service does not document
it; docs/local-bedrock-emulator.md names the sources): per turn, the input turn, its output and
its results side by side::

    {"conversationTurns": [{"inputRecord": <the input turn without its output>,
                            "output": <the turn's output>,
                            "results": [{"metricName": ..., "result": <number|null>,
                                         "evaluatorDetails": [{"modelIdentifier": ...,
                                                               "explanation": ...}]}]},
                           ...]}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from local.bedrock_emulator.judges.base import BUILTIN_SCALES, MetricSpec, Rating, quantise
from local.bedrock_emulator.judges.offline import OFFLINE_JUDGE_ID, content_words

if TYPE_CHECKING:
    from local.bedrock_emulator.judges.base import Judge

MAX_TURNS = 5
_FIVE_LEVELS = tuple(Rating(label, value) for label, value in zip(
    ("None", "Some", "About half", "Most", "All"), (0.0, 0.25, 0.5, 0.75, 1.0), strict=True
))  # fmt: skip
RETRIEVAL_METRICS = (
    "Builtin.ContextRelevance",
    "Builtin.ContextCoverage",
    "Builtin.CitationPrecision",
    "Builtin.CitationCoverage",
)
GENERATION_METRICS = (
    "Builtin.Correctness",
    "Builtin.Completeness",
    "Builtin.Helpfulness",
    "Builtin.LogicalCoherence",
    "Builtin.Faithfulness",
    "Builtin.Harmfulness",
    "Builtin.Stereotyping",
    "Builtin.Refusal",
)
RETRIEVE_ONLY_METRICS = ("Builtin.ContextRelevance", "Builtin.ContextCoverage")
RAG_SCALES: dict[str, tuple[Rating, ...]] = {
    **dict.fromkeys(RETRIEVAL_METRICS, _FIVE_LEVELS),
    **{name: BUILTIN_SCALES.get(name, BUILTIN_SCALES["Builtin.Coherence"]) for name in GENERATION_METRICS},
}


def text_of(block: object) -> str:
    """``block.content[0].text`` (``""`` when absent)."""
    content = block.get("content") if isinstance(block, Mapping) else None
    first = content[0] if isinstance(content, list) and content else None
    text = first.get("text") if isinstance(first, Mapping) else None
    return text if isinstance(text, str) else ""


def passages_of(output: Mapping[str, Any]) -> list[str]:
    """Retrieved passage texts (``retrievedPassages`` or ``retrievedResults``)."""
    texts: list[str] = []
    for key in ("retrievedPassages", "retrievedResults"):
        holder = output.get(key)
        results = holder.get("retrievalResults") if isinstance(holder, Mapping) else None
        for result in results if isinstance(results, list) else []:
            content = result.get("content") if isinstance(result, Mapping) else None
            text = content.get("text") if isinstance(content, Mapping) else None
            if isinstance(text, str):
                texts.append(text)
    return texts


def prompted_turns(record: dict[str, Any], where: str, retrieve_only: bool) -> tuple[list[dict], list[str]]:
    """The line's turns when there are 1..limit of them, each with a prompt; else why not.

    The checks every RAG line passes, precomputed (`turn_problems`) or live
    (:func:`local.bedrock_emulator.live_rag.live_turn_problems`).
    """
    turns = record.get("conversationTurns")
    limit = 1 if retrieve_only else MAX_TURNS
    if not isinstance(turns, list) or not 1 <= len(turns) <= limit:
        return [], [f"The conversationTurns in {where} must be a list of 1 to {limit} turns."]
    for number, turn in enumerate(turns):
        if not isinstance(turn, dict) or not text_of(turn.get("prompt")).strip():
            return [], [f"The prompt of conversationTurns[{number}] is missing or empty in {where}."]
    return turns, []


def turn_problems(record: dict[str, Any], where: str, source_id: str, retrieve_only: bool) -> list[str]:
    """Why the service would reject a RAG dataset line (empty when it is usable)."""
    turns, problems = prompted_turns(record, where, retrieve_only)
    for number, turn in enumerate(turns):
        output = turn.get("output")
        if not isinstance(output, dict):
            return [f"The output of conversationTurns[{number}] is missing in {where}."]
        identifier = output.get("knowledgeBaseIdentifier")
        if (identifier is not None or not retrieve_only) and identifier != source_id:
            return [
                f"RAG source mapping error in {where}: conversationTurns[{number}].output."
                f"knowledgeBaseIdentifier {identifier!r} does not match the ragSourceIdentifier "
                f"{source_id!r}."
            ]
        if not retrieve_only and not isinstance(output.get("text"), str):
            return [f"The output.text of conversationTurns[{number}] is missing in {where}."]
        if retrieve_only and not passages_of(output):
            return [f"The retrieved passages of conversationTurns[{number}] are missing in {where}."]
    return problems


def score_rag_record(
    judge: Judge,
    metrics: tuple[MetricSpec, ...],
    record: dict[str, Any],
    source_id: str,
    score_record: Callable[[Judge, tuple[MetricSpec, ...], dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """One output line: every turn's scores, then the input line (see the module docstring).

    ``score_record`` is the model-evaluation scorer (:func:`local.bedrock_emulator.outputs.score_record`),
    used for the generation metrics so both job types share the judge call and its failure handling.
    """

    turns = []
    for turn in record["conversationTurns"]:
        output = turn.get("output") or {}
        prompt = text_of(turn.get("prompt"))
        references = turn.get("referenceResponses")
        reference = text_of(references[0]) if isinstance(references, list) and references else ""
        passages = passages_of(output)
        results = []
        for metric in metrics:
            if metric.name in RETRIEVAL_METRICS:
                value, why = _retrieval_score(metric.name, prompt, reference, passages, output)
                results.append(
                    {
                        "metricName": metric.name,
                        "result": None if value is None else quantise(value, _FIVE_LEVELS),
                        "evaluatorDetails": [
                            {"modelIdentifier": OFFLINE_JUDGE_ID, "explanation": f"Offline heuristic: {why}"}
                        ],
                    }
                )
                continue
            judged_prompt = prompt
            if metric.name == "Builtin.Faithfulness" and passages:
                judged_prompt = prompt + "\n\nRetrieved passages:\n" + "\n".join(passages)
            name = "Builtin.Coherence" if metric.name == "Builtin.LogicalCoherence" else metric.name
            spec = MetricSpec(name, metric.evaluator_model, metric.instructions, metric.rating_scale)
            model_record = {
                "prompt": judged_prompt,
                "referenceResponse": reference,
                "modelResponses": [{"response": str(output.get("text") or ""), "modelIdentifier": source_id}],
            }
            (score,) = score_record(judge, (spec,), model_record)["automatedEvaluationResult"]["scores"]
            results.append({**score, "metricName": metric.name})
        turns.append(rag_turn(turn, output, results))
    return {"conversationTurns": turns}


def rag_turn(turn: Mapping[str, Any], output: object, results: list[dict[str, Any]]) -> dict[str, Any]:
    """One turn of an output line: ``inputRecord`` (the input turn without its output), ``output``
    and ``results`` side by side, as reported of real RAG jobs."""
    return {
        "inputRecord": {k: v for k, v in turn.items() if k != "output"},
        "output": output,
        "results": results,
    }


def _share(found: set[str], wanted: set[str]) -> float:
    return len(found & wanted) / len(wanted)


def _retrieval_score(
    metric: str, prompt: str, reference: str, passages: list[str], output: Mapping[str, Any]
) -> tuple[float | None, str]:
    passage_words = content_words("\n".join(passages))
    if metric == "Builtin.ContextRelevance":
        asked = content_words(prompt)
        if not passages or not asked:
            return None, "no retrieved passages or no content word in the prompt (N/A)"
        share = _share(passage_words, asked)
        return share, f"{share:.0%} of the prompt's content words appear in the retrieved passages"
    if metric == "Builtin.ContextCoverage":
        wanted = content_words(reference)
        if not wanted:
            return None, "no reference response, coverage not judged (N/A)"
        share = _share(passage_words, wanted) if passages else 0.0
        return share, f"{share:.0%} of the reference's content words appear in the retrieved passages"
    citations = [c for c in output.get("citations") or [] if isinstance(c, Mapping)]
    if not citations:
        return None, "the turn has no citations (N/A)"
    if metric == "Builtin.CitationPrecision":
        corpus = " ".join(" ".join(passages).lower().split())
        precise = sum(1 for citation in citations if _cited_texts(citation) and all(
            " ".join(text.lower().split()) in corpus for text in _cited_texts(citation)
        ))  # fmt: skip
        share = precise / len(citations)
        return share, f"{precise} of {len(citations)} citations quote a retrieved passage"
    answer = content_words(str(output.get("text") or ""))
    if not answer:
        return None, "no generated text (N/A)"
    cited = content_words(" ".join(_cited_part(citation) for citation in citations))
    share = _share(cited, answer)
    return share, f"{share:.0%} of the answer's content words lie in cited parts"


def _cited_texts(citation: Mapping[str, Any]) -> list[str]:
    references = citation.get("retrievedReferences")
    texts = []
    for reference in references if isinstance(references, list) else []:
        content = reference.get("content") if isinstance(reference, Mapping) else None
        text = content.get("text") if isinstance(content, Mapping) else None
        if isinstance(text, str) and text.strip():
            texts.append(text)
    return texts


def _cited_part(citation: Mapping[str, Any]) -> str:
    part = citation.get("generatedResponsePart")
    text_part = part.get("textResponsePart") if isinstance(part, Mapping) else None
    text = text_part.get("text") if isinstance(text_part, Mapping) else None
    return text if isinstance(text, str) else ""
