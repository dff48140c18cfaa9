"""Bedrock Runtime's ``Converse``, emulated offline and deterministically (no model is called).

``POST /model/{modelId}/converse`` takes and gives the shapes of botocore's ``bedrock-runtime``
service model (``ConverseRequest`` / ``ConverseResponse``), which is the authority here: the
request is validated against it like the evaluation-job operations (lengths, patterns, enums,
unions), then answered by the first rule that applies:

1. **A judge prompt of ``evalpipe preview``** (the last user message reads back with
   :func:`evalpipe.preview.read_judge_prompt`): the offline judge rates the record on the
   metric's scale exactly as in an emulated evaluation job
   (:meth:`~local.bedrock_emulator.judges.offline.OfflineJudge.custom_judgement`), and the answer
   is ``{"reasoning": ..., "rating": "<definition>"}`` (``{"reasoning"}`` without a scale).
2. **A tool call**, on the first round only (no message of the conversation carries a
   ``toolResult`` yet) and only when it makes sense (:func:`pick_tool`): ``toolChoice.tool`` names
   the tool; otherwise the first tool, in configuration order, that the latest user text *mentions*
   (a word of at least 4 letters of its name, ``lookup_order`` -> lookup, order, appears in it as a
   whole word, or with an ``s``, ignoring case) and whose identifier-like required inputs
   (``orderId``, ``isbn``, ...) a word with a digit in the user's turns can fill (the latest turn
   first). ``toolChoice.any`` takes the first tool when none qualifies; the default (``auto``)
   answers in words instead. The answer is ``stopReason: tool_use`` and one ``toolUse`` block: its
   ``toolUseId`` is ``tooluse_`` + a hash of the model, the tool and the last user text; its
   ``input`` is derived from the user's turns (:func:`tool_input`). When the last message carries
   the ``toolResult``: ``Here is what <tool> returned: <result>``.
3. **A plain answer** to the last user message's text: the live-inference stand-in's
   (:func:`~local.bedrock_emulator.outputs.offline_model_response`), ``"Thanks for your question
   about '<first words>'. I'm happy to help with that: ..."``.

Usage counts 4 characters a token (the estimate's assumption) over every text, tool input and
tool result sent, ``system`` and ``toolConfig`` included; ``inferenceConfig.maxTokens`` cuts a text
answer at a word boundary (``stopReason: max_tokens``) and ``stopSequences`` at the first one
found (``stop_sequence``). ``metrics.latencyMs`` is the stand-in's own time.

Every request is counted (``controls.converse_calls``) and may be failed first by an injected
error (``controls.throttle_next_converse``, ``fail_next_converse``): botocore retries those.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import time
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.loaders import create_loader
from botocore.model import ServiceModel

from evalpipe.preview import read_judge_prompt
from local.bedrock_emulator import service
from local.bedrock_emulator.backend import CONVERSE, EmulatorError, ValidationError, controls
from local.bedrock_emulator.judges.base import MetricSpec, Rating
from local.bedrock_emulator.judges.offline import OFFLINE_JUDGE_ID, OfflineJudge
from local.bedrock_emulator.outputs import offline_model_response
from local.bedrock_emulator.service import ServiceResponse, validate_shape

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from evalpipe.preview import ReadBack
    from local.bedrock_emulator.service import ServiceRequest

SERVICE = "bedrock-runtime"
CHARS_PER_TOKEN = 4
_PATH = re.compile(r"^/model/(?P<modelId>.+)/converse$")
# A property named like an identifier: its last word (``order_id``, ``orderId``, ``tracking_number``).
_ID_WORDS = frozenset({"id", "number", "code", "sku", "isbn"})
# The words of a name: snake_case, kebab-case and camelCase parts (``getReturnPolicy``: get return policy).
_NAME_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_TEXT_WORD = re.compile(r"[a-z0-9]+")
# A word of a tool's name shorter than this does not make a mention (get, set, by, ...).
TRIGGER_LETTERS = 4
_TOKEN_WITH_DIGIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\d[A-Za-z0-9-]*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@cache
def service_model() -> ServiceModel:
    """botocore's ``bedrock-runtime`` model (the loader only: no AWS config or environment read)."""
    return ServiceModel(create_loader().load_service_model(SERVICE, "service-2"), SERVICE)


@dataclass(frozen=True)
class Reply:
    """What the stand-in answers: the assistant message's content blocks and the stop reason."""

    content: list[dict[str, Any]]
    stop_reason: str


def handle_converse(request: ServiceRequest) -> ServiceResponse:
    """Serve one Converse request (counted first, then maybe failed by an injected error)."""
    controls.count_converse_call()
    started = time.perf_counter()
    try:
        injected = controls.take_injected_error(CONVERSE)
        if injected is not None:
            raise injected  # before validation: throttling happens at the front door
        params = _params(request)
        validate_shape(service_model().operation_model(CONVERSE).input_shape, params)
        check_conversation(params)
        body = converse(params)
    except EmulatorError as error:
        return error_response(error)
    body["metrics"] = {"latencyMs": max(1, round((time.perf_counter() - started) * 1000))}
    return ServiceResponse(200, json.dumps(body))


def error_response(error: EmulatorError) -> ServiceResponse:
    """The REST-JSON error with the status ``bedrock-runtime``'s model gives the code (else 500)."""
    return service.error_response(error, service_model())


def _params(request: ServiceRequest) -> dict[str, Any]:
    params = service.json_body(request)
    found = _PATH.match(request.path)
    if found:
        params["modelId"] = unquote(found.group("modelId"))  # botocore percent-encodes ':' and '/'
    return params


def check_conversation(params: dict[str, Any]) -> None:
    """The service's rules beyond the shapes (the emulator's wording where the service's is unknown).

    Raises
    ------
    ValidationError
        No messages; a first message not from the user; roles that do not alternate; a blank text
        block; ``toolUse`` / ``toolResult`` blocks without ``toolConfig``; a ``toolResult`` that
        answers no ``toolUse`` of the assistant message before it.
    """
    messages = params.get("messages") or []
    if not messages or messages[0]["role"] != "user":
        raise ValidationError(
            "A conversation must start with a user message. Try again with a conversation that starts "
            "with a user message."
        )
    for index, (before, after) in enumerate(pairwise(messages), start=1):
        if before["role"] == after["role"]:
            raise ValidationError(
                f"A conversation must alternate between user and assistant roles (messages.{index} repeats "
                f"the role {after['role']}). Make sure the conversation alternates between user and "
                "assistant roles and try again."
            )
    tools_used = False
    for index, message in enumerate(messages):
        for position, block in enumerate(message["content"]):
            if "text" in block and not block["text"].strip():
                raise ValidationError(
                    f"The text field in the ContentBlock object at messages.{index}.content.{position} is "
                    "blank. Add text to the text field, and try again."
                )
            tools_used = tools_used or "toolUse" in block or "toolResult" in block
        _check_tool_results(messages, index)
    if tools_used and not params.get("toolConfig"):
        raise ValidationError(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    config = params.get("toolConfig") or {}
    named = ((config.get("toolChoice") or {}).get("tool") or {}).get("name")
    if named and named not in {
        tool["toolSpec"]["name"] for tool in config.get("tools", []) if "toolSpec" in tool
    }:
        # What Bedrock answers for a toolChoice naming no configured tool (it never falls back).
        raise ValidationError(f"toolConfig.toolChoice.tool.name: {named} is not a tool of toolConfig.tools.")


def _check_tool_results(messages: list[dict[str, Any]], index: int) -> None:
    answered = [b["toolResult"]["toolUseId"] for b in messages[index]["content"] if "toolResult" in b]
    if not answered:
        return
    asked = (
        {b["toolUse"]["toolUseId"] for b in messages[index - 1]["content"] if "toolUse" in b}
        if index
        else set()
    )
    for tool_use_id in answered:
        if tool_use_id not in asked:
            raise ValidationError(
                f"messages.{index}.content: the toolResult {tool_use_id} answers no toolUse of the previous "
                "assistant message."
            )


def converse(params: dict[str, Any]) -> dict[str, Any]:
    """The ``ConverseResponse`` body (without ``metrics``) for a validated request."""
    reply = _judge_reply(params) or _tool_reply(params) or _plain_reply(params)
    reply = _limit(reply, params.get("inferenceConfig") or {})
    input_tokens = _tokens(_request_text(params))
    output_tokens = _tokens("".join(_block_text(block) for block in reply.content))
    return {
        "output": {"message": {"role": "assistant", "content": reply.content}},
        "stopReason": reply.stop_reason,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
    }


# -- the answers --------------------------------------------------------------------------------


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        texts = [block["text"] for block in message["content"] if "text" in block]
        if message["role"] == "user" and texts:
            return "\n".join(texts)
    return ""


def _judge_reply(params: dict[str, Any]) -> Reply | None:
    last = params["messages"][-1]
    if last["role"] != "user":
        return None
    read = read_judge_prompt("\n".join(block["text"] for block in last["content"] if "text" in block))
    if read is None:
        return None
    return Reply([{"text": json.dumps(judge_answer(read, params["modelId"]))}], "end_turn")


def judge_answer(read: ReadBack, model_id: str) -> dict[str, str]:
    """The offline judge's answer to a preview judge prompt: ``{"reasoning", "rating"?}``."""
    metric = MetricSpec(
        name="preview",
        evaluator_model=model_id,
        instructions=read.instructions,
        rating_scale=tuple(Rating(r.definition, r.value) for r in read.rating_scale),
    )
    record = {
        "prompt": read.values.get("prompt", ""),
        "referenceResponse": read.values.get("ground_truth", ""),
        "modelResponses": [{"response": read.values.get("prediction", "")}],
    }
    judgement = OfflineJudge().custom_judgement(metric, record)
    answer = {
        "reasoning": f"{judgement.explanation} [offline emulator: the offline judge ({OFFLINE_JUDGE_ID}) "
        f"answered in place of {model_id}]"
    }
    if judgement.rating is not None:
        answer["rating"] = judgement.rating.definition
    return answer


def _tool_reply(params: dict[str, Any]) -> Reply | None:
    tools = [
        tool["toolSpec"] for tool in (params.get("toolConfig") or {}).get("tools", []) if "toolSpec" in tool
    ]
    if not tools:
        return None
    messages = params["messages"]
    results = [block["toolResult"] for block in messages[-1]["content"] if "toolResult" in block]
    if results:
        names = {
            block["toolUse"]["toolUseId"]: block["toolUse"]["name"]
            for block in (messages[-2]["content"] if len(messages) > 1 else [])
            if "toolUse" in block
        }
        said = [_tool_result_sentence(names.get(r["toolUseId"], "the tool"), r) for r in results]
        return Reply([{"text": " ".join(said)}], "end_turn")
    if any("toolResult" in block for message in messages for block in message["content"]):
        return None  # the tool has answered earlier in the conversation: answer in words now
    turns = _user_texts(messages)
    tool = pick_tool(tools, params["toolConfig"].get("toolChoice") or {}, turns)
    if tool is None:
        return None  # nothing the user said calls for a tool: answer in words
    text = turns[0] if turns else ""
    use = {
        "toolUseId": _tool_use_id(params["modelId"], tool["name"], text),
        "name": tool["name"],
        "input": tool_input(_input_schema(tool), text, turns[1:]),
    }
    return Reply([{"toolUse": use}], "tool_use")


def _user_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The text of every user message, the latest first."""
    texts = (
        "\n".join(block["text"] for block in message["content"] if "text" in block)
        for message in reversed(messages)
        if message["role"] == "user"
    )
    return [text for text in texts if text]


def _input_schema(tool: dict[str, Any]) -> object:
    return (tool.get("inputSchema") or {}).get("json")


def pick_tool(tools: list[dict[str, Any]], choice: dict[str, Any], turns: list[str]) -> dict[str, Any] | None:
    """The tool the stand-in calls on a conversation's first round, or None to answer in words.

    ``toolChoice.tool`` names it. Otherwise it is the first tool the latest user turn mentions (a
    word of its name of at least `TRIGGER_LETTERS` letters appears in it as a whole word, or with an
    ``s``, ignoring case) whose identifier-like required inputs can be filled from the user's turns
    (a word with a digit in one of them). ``toolChoice.any`` falls back to the first tool; ``auto``
    (the default) answers in words.

    Parameters
    ----------
    tools
        The ``toolSpec`` of each tool, in configuration order.
    choice
        ``toolConfig.toolChoice`` (``{}`` when absent).
    turns
        The user's texts, the latest first.

    Examples
    --------
    >>> order = {"type": "object", "properties": {"orderId": {"type": "string"}}, "required": ["orderId"]}
    >>> tools = [{"name": "lookup_order", "inputSchema": {"json": order}},
    ...          {"name": "cancel_order", "inputSchema": {"json": order}},
    ...          {"name": "get_return_policy", "inputSchema": {"json": {"type": "object"}}}]
    >>> [pick_tool(tools, {}, [turn])["name"] for turn in ["Where is my order BK-1?", "Your return policy?"]]
    ['lookup_order', 'get_return_policy']
    >>> pick_tool(tools, {}, ["Yes, please cancel it.", "Cancel my order BK-7."])["name"]
    'cancel_order'
    >>> pick_tool(tools, {}, ["I want to cancel my order."]) is None  # no order number to look up
    True
    >>> pick_tool(tools, {}, ["What's the weather?"]), pick_tool(tools, {"any": {}}, ["Hi"])["name"]
    (None, 'lookup_order')
    """
    named = (choice.get("tool") or {}).get("name")
    if named:  # a name no tool has is refused when the request is validated
        return next(tool for tool in tools if tool["name"] == named)
    latest = set(_TEXT_WORD.findall(turns[0].lower())) if turns else set()
    for tool in tools:
        if _mentions(tool["name"], latest) and _fillable(_input_schema(tool), turns):
            return tool
    return tools[0] if "any" in choice else None


def _mentions(name: str, words: set[str]) -> bool:
    triggers = [word.lower() for word in _NAME_WORD.findall(name) if len(word) >= TRIGGER_LETTERS]
    return any(word in words or word + "s" in words for word in triggers)


def _is_identifier(name: str) -> bool:
    words = _NAME_WORD.findall(name)
    return bool(words) and words[-1].lower() in _ID_WORDS


def _input_names(schema: object) -> tuple[dict[str, Any], list[str]]:
    """The schema's properties, and the names an input gives values: the required ones, else all."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or not properties:
        return {}, []
    required = schema.get("required") if isinstance(schema, dict) else None
    names = (
        [n for n in required if n in properties]
        if isinstance(required, list) and required
        else list(properties)
    )
    return properties, names


def _fillable(schema: object, turns: list[str]) -> bool:
    """Whether each required identifier-like string input of ``schema`` finds a word with a digit."""
    properties, names = _input_names(schema)
    required = schema.get("required") if isinstance(schema, dict) else None
    needs_identifier = any(
        isinstance(required, list)
        and name in required
        and _is_identifier(name)
        and isinstance(properties[name], dict)
        and properties[name].get("type", "string") == "string"
        and "enum" not in properties[name]
        for name in names
    )
    return not needs_identifier or _identifier(turns) is not None


def _identifier(turns: Iterable[str]) -> str | None:
    """The first word with a digit in the first turn that has one (``BK-10482``), or None."""
    for text in turns:
        found = _TOKEN_WITH_DIGIT.search(text)
        if found:
            return found.group(0)
    return None


def _tool_result_sentence(name: str, result: dict[str, Any]) -> str:
    text = " ".join(_tool_result_text(block) for block in result.get("content", [])).strip()
    if result.get("status") == "error":
        return f"The {name} tool failed: {text}"
    return f"Here is what {name} returned: {text}"


def _tool_result_text(block: dict[str, Any]) -> str:
    if "text" in block:
        return str(block["text"])
    if "json" in block:
        return json.dumps(block["json"], sort_keys=True, separators=(",", ":"))
    return "[" + next(iter(block), "content") + "]"  # image, document, video, searchResult


def _tool_use_id(model_id: str, tool: str, text: str) -> str:
    digest = hashlib.sha256(f"{model_id}\n{tool}\n{text}".encode()).digest()
    return "tooluse_" + base64.urlsafe_b64encode(digest).decode()[:22]


def tool_input(schema: object, text: str, earlier: Sequence[str] = ()) -> dict[str, Any]:
    """A tool's input derived from the user's text: each required property (else every property)
    of the JSON schema gets a value of its type. A string named like an identifier (``order_id``,
    ``orderId``, ``isbn``, ``tracking_number``) takes the first word with a digit in it, else in the
    ``earlier`` user turns (the latest first), else the text; other strings the text; numbers the
    first number in it (else 1); booleans true; arrays ``[text]``; an ``enum`` its first value. A
    schema without properties gets ``{"query": text}``.

    Examples
    --------
    >>> schema = {"type": "object", "properties": {"order_id": {"type": "string"},
    ...           "reason": {"type": "string"}}, "required": ["order_id"]}
    >>> tool_input(schema, "Cancel BK-10517 please")
    {'order_id': 'BK-10517'}
    >>> tool_input(schema, "Yes, please cancel it.", ["I want to cancel BK-10517."])
    {'order_id': 'BK-10517'}
    >>> tool_input({}, "Where is my order?")
    {'query': 'Where is my order?'}
    """
    properties, names = _input_names(schema)
    if not names:
        return {"query": text}
    return {name: _value(name, properties[name], text, earlier) for name in names}


def _value(name: str, spec: object, text: str, earlier: Sequence[str]) -> Any:
    spec = spec if isinstance(spec, dict) else {}
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return spec["enum"][0]
    kind = spec.get("type", "string")
    if kind in ("integer", "number"):
        found = _NUMBER.search(text)
        number = float(found.group(0)) if found else 1.0
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        return True
    if kind == "array":
        return [text]
    if kind == "object":
        return {}
    if _is_identifier(name):
        return _identifier([text, *earlier]) or text
    return text


def _plain_reply(params: dict[str, Any]) -> Reply:
    text = _last_user_text(params["messages"]) or "your message"
    return Reply([{"text": offline_model_response({"prompt": text})}], "end_turn")


def _limit(reply: Reply, inference: dict[str, Any]) -> Reply:
    """Apply ``stopSequences`` and ``maxTokens`` to a text answer."""
    if len(reply.content) != 1 or "text" not in reply.content[0]:
        return reply
    text, stop_reason = reply.content[0]["text"], reply.stop_reason
    stops = [s for s in inference.get("stopSequences") or [] if s and s in text]
    if stops:
        text, stop_reason = text[: min(text.index(s) for s in stops)].rstrip(), "stop_sequence"
    limit = inference.get("maxTokens")
    if isinstance(limit, int) and _tokens(text) > limit:
        cut = text[: limit * CHARS_PER_TOKEN]
        text, stop_reason = (cut.rsplit(" ", 1)[0] if " " in cut else cut), "max_tokens"
    return Reply([{"text": text}], stop_reason)


# -- usage ---------------------------------------------------------------------------------------


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN)) if text else 0


def _block_text(block: dict[str, Any]) -> str:
    if "text" in block:
        return str(block["text"])
    if "toolUse" in block:
        return block["toolUse"]["name"] + json.dumps(block["toolUse"].get("input"), separators=(",", ":"))
    if "toolResult" in block:
        return " ".join(_tool_result_text(part) for part in block["toolResult"].get("content", []))
    return ""


def _request_text(params: dict[str, Any]) -> str:
    parts = [str(block.get("text", "")) for block in params.get("system") or []]
    parts += [_block_text(block) for message in params["messages"] for block in message["content"]]
    if params.get("toolConfig"):
        parts.append(json.dumps(params["toolConfig"], separators=(",", ":")))
    return "".join(parts)
