"""Check JSON values against botocore's service model for ``bedrock`` (the authority on shapes).

A generic walk: structures (required, unknown and union members), lists, maps, strings
(length, pattern, enum), numbers, booleans and documents. botocore validates only types and
required members client-side; the service also enforces lengths, patterns and enums, so the
walk does too, and a request that passes here fails on content, not on shape.

What the suite file may do differently from the request (omit what the pipeline fills in,
spell a member the guide's way) is expressed as a :class:`WalkPolicy`, not as special cases.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from botocore.loaders import create_loader
from botocore.model import ServiceModel

from evalpipe.validation.problems import Problem, Severity, index_path, json_type, key_path, show

if TYPE_CHECKING:
    from botocore.model import Shape

OPERATION = "CreateEvaluationJob"
# Recursive shapes (RetrievalFilter.andAll/orAll) could nest without end; real configs are shallow.
MAX_DEPTH = 40
# Long patterns (model identifiers) say nothing to a reader; name the shape instead.
_MAX_SHOWN_PATTERN = 60


@cache
def _service_model():
    # The loader alone: a Session would also read AWS config files and the environment.
    return ServiceModel(create_loader().load_service_model("bedrock", "service-2"), "bedrock")


def request_member(name: str) -> Shape:
    """The shape of a top-level CreateEvaluationJob request member (e.g. ``evaluationConfig``)."""
    return _service_model().operation_model(OPERATION).input_shape.members[name]


def request_required() -> list[str]:
    """CreateEvaluationJob's required request members."""
    return list(_service_model().operation_model(OPERATION).input_shape.required_members)


def shape(name: str) -> Shape:
    """A shape of the bedrock model by name (e.g. ``TagKey``)."""
    return _service_model().shape_for(name)


@cache
def _compiled(pattern: str) -> re.Pattern | None:
    # The model's patterns are unanchored but the service anchors them: callers use fullmatch.
    # ASCII makes \s and \d mean what they mean in the service's (Java) regex engine.
    try:
        return re.compile(pattern, re.ASCII)
    except re.error:
        return None


# The warning for an ignored member: fixed text, or text (None: no warning) from the structure.
IgnoredMessage = str | Callable[[dict], str | None]


@dataclass(frozen=True)
class WalkPolicy:
    """Where the checked document knowingly departs from the request shapes.

    Attributes
    ----------
    skip_enum : frozenset[str]
        String shapes whose ``enum`` is not checked (another rule owns them).
    optional_members : Mapping[str, frozenset[str]]
        Per structure shape, required members that may be left out.
    ignored_members : Mapping[str, Mapping[str, IgnoredMessage]]
        Per structure shape, members that are accepted but ignored (their value is not checked),
        with the warning's text, or a function of the structure's value giving the text, or None
        for no warning (another rule owns that case).
    aliases : Mapping[str, Mapping[str, str]]
        Per structure shape, ``alias -> member``: the alias is accepted with a warning and
        checked as the member; giving both is an error.
    """

    skip_enum: frozenset[str] = frozenset()
    optional_members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    ignored_members: Mapping[str, Mapping[str, IgnoredMessage]] = field(default_factory=dict)
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class ShapeWalker:
    """Walk a value along a shape and yield a :class:`Problem` for each departure.

    Parameters
    ----------
    file : str
        Named in every problem.
    policy : WalkPolicy, optional
        Accepted departures from the request shapes.

    Examples
    --------
    >>> walker = ShapeWalker("suite.json")
    >>> [p.render() for p in walker.walk("Model", request_member("applicationType"), "applicationType")]
    ["suite.json: applicationType: error: 'Model' is not allowed; use one of: ModelEvaluation, RagEvaluation"]
    """

    def __init__(self, file: str, policy: WalkPolicy | None = None) -> None:
        self.file = file
        self.policy = policy or WalkPolicy()

    def walk(self, value: object, shape: Shape, path: str, depth: int = 0) -> Iterator[Problem]:
        """Yield the problems of ``value`` checked as ``shape``, located at JSON path ``path``."""
        if depth > MAX_DEPTH:
            yield self._error(path, f"nested more than {MAX_DEPTH} levels deep; simplify it")
            return
        if value is None:
            yield self._error(path, f"is null; give {_expected(shape)} or remove the key")
            return
        if shape.type_name == "structure" and shape.metadata.get("document"):
            yield from self._document(value, path)
            return
        check = _KIND_CHECKS.get(shape.type_name)
        # timestamps do not occur in the checked members; anything else is left to the service
        if check is not None:
            yield from check(self, value, shape, path, depth)

    # The checks of one shape type take (value, shape, path, depth): see _KIND_CHECKS.

    def _structure(self, value: object, shape: Shape, path: str, depth: int) -> Iterator[Problem]:
        if not isinstance(value, dict):
            yield self._type_error(path, shape, value)
            return
        given: dict[str, tuple[object, str]] = {}  # member -> (value, path it was given at)
        yield from self._sort_keys(value, shape, path, given)
        yield from self._missing_members(shape, given, path)
        if shape.is_tagged_union and len(given) != 1:
            found = ", ".join(sorted(given)) if given else "none"
            yield self._error(
                path,
                f"set exactly one of: {', '.join(shape.members)} ({shape.name} is a union); found {found}",
            )
        for member, (item, item_path) in given.items():
            yield from self.walk(item, shape.members[member], item_path, depth + 1)

    def _sort_keys(
        self, structure: dict, shape: Shape, path: str, given: dict[str, tuple[object, str]]
    ) -> Iterator[Problem]:
        """Put the members (and the aliases' members) into ``given``, to be walked; an ignored
        member may warn, any other key is an error."""
        ignored = self.policy.ignored_members.get(shape.name, {})
        aliases = self.policy.aliases.get(shape.name, {})
        for key, item in structure.items():
            if not isinstance(key, str):
                yield self._error(path, f"has a non-string key {show(key)}")
                continue
            item_path = key_path(path, key)
            if key in ignored:
                why = ignored[key]
                message = why if isinstance(why, str) else why(structure)
                if message is not None:
                    yield Problem(Severity.WARNING, self.file, message, field=item_path)
            elif key in shape.members:
                given[key] = (item, item_path)
            elif key in aliases:
                yield from self._alias(structure, key, aliases[key], (item, item_path), given)
            else:
                yield self._error(item_path, _unknown_key_message(key, shape.name, list(shape.members)))

    def _alias(
        self,
        structure: dict,
        alias: str,
        member: str,
        entry: tuple[object, str],
        given: dict[str, tuple[object, str]],
    ) -> Iterator[Problem]:
        """An alias is checked as its member, with a warning; giving both is an error."""
        item_path = entry[1]
        if member in structure:
            yield self._error(
                item_path, f"give {member!r} or its alias {alias!r}, not both (remove {alias!r})"
            )
            return
        yield Problem(
            Severity.WARNING,
            self.file,
            f"{alias!r} is accepted and sent to the API as {member!r}; "
            f"rename it to {member!r} to silence this warning",
            field=item_path,
        )
        given[member] = entry

    def _missing_members(
        self, shape: Shape, given: dict[str, tuple[object, str]], path: str
    ) -> Iterator[Problem]:
        """The required members neither given nor excused by the policy (optional or ignored)."""
        optional = self.policy.optional_members.get(shape.name, frozenset())
        ignored = self.policy.ignored_members.get(shape.name, {})
        for required in shape.required_members:
            if required not in given and required not in optional and required not in ignored:
                yield self._error(
                    key_path(path, required),
                    f"is required in {shape.name} (required: {', '.join(shape.required_members)})",
                )

    def _list(self, value: object, shape: Shape, path: str, depth: int) -> Iterator[Problem]:
        if not isinstance(value, list):
            yield self._type_error(path, shape, value)
            return
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            yield self._error(path, f"has {len(value)} items; {shape.name} needs at least {low}")
        if high is not None and len(value) > high:
            yield self._error(path, f"has {len(value)} items; {shape.name} allows at most {high}")
        for index, item in enumerate(value):
            yield from self.walk(item, shape.member, index_path(path, index), depth + 1)

    def _map(self, value: object, shape: Shape, path: str, depth: int) -> Iterator[Problem]:
        if not isinstance(value, dict):
            yield self._type_error(path, shape, value)
            return
        for key, item in value.items():
            if not isinstance(key, str):
                yield self._error(path, f"has a non-string key {show(key)}")
                continue
            item_path = key_path(path, key)
            yield from self.walk(key, shape.key, item_path, depth + 1)
            yield from self.walk(item, shape.value, item_path, depth + 1)

    def _string(self, value: object, shape: Shape, path: str, depth: int) -> Iterator[Problem]:
        if not isinstance(value, str):
            yield self._type_error(path, shape, value)
            return
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            yield self._error(
                path, "is empty; give a value" if not value else f"is shorter than {low} characters"
            )
            return  # the pattern would only repeat it
        if high is not None and len(value) > high:
            yield self._error(path, f"is {len(value)} characters long; {shape.name} allows at most {high}")
            return  # a pattern check on an over-long value only costs time
        enum = shape.metadata.get("enum")
        if enum and shape.name not in self.policy.skip_enum:
            if value not in enum:
                yield self._error(path, f"{show(value)} is not allowed; use one of: {', '.join(enum)}")
            return
        pattern = shape.metadata.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            rule = (
                f"must match {pattern}"
                if len(pattern) <= _MAX_SHOWN_PATTERN
                else f"is not a valid {shape.name} (see the CreateEvaluationJob API reference)"
            )
            yield self._error(path, f"{show(value)} {rule}")

    def _integer(self, value: object, shape: Shape, path: str, depth: int) -> Iterator[Problem]:
        yield from self._number(value, shape, path, integral=True)

    def _float(self, value: object, shape: Shape, path: str, depth: int) -> Iterator[Problem]:
        yield from self._number(value, shape, path, integral=False)

    def _boolean(self, value: object, shape: Shape, path: str, depth: int) -> Iterator[Problem]:
        if not isinstance(value, bool):
            yield self._type_error(path, shape, value)

    def _blob(self, value: object, shape: Shape, path: str, depth: int) -> Iterator[Problem]:
        if not isinstance(value, str):  # base64 text in JSON
            yield self._type_error(path, shape, value)

    def _number(self, value: object, shape: Shape, path: str, *, integral: bool) -> Iterator[Problem]:
        accepted = (int,) if integral else (int, float)
        if isinstance(value, bool) or not isinstance(value, accepted):
            yield self._type_error(path, shape, value)
            return
        if isinstance(value, float) and not math.isfinite(value):
            yield self._error(path, f"{show(value)} is not a finite number")
            return
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            yield self._error(path, f"{show(value)} is below the minimum {low}")
        if high is not None and value > high:
            yield self._error(path, f"{show(value)} is above the maximum {high}")

    def _document(self, value: object, path: str) -> Iterator[Problem]:
        # Iterative, so a deeply nested document cannot exhaust the stack.
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if not all(isinstance(key, str) for key in item):
                    yield self._error(path, "has an object with a non-string key")
                    return
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, float) and not math.isfinite(item):
                yield self._error(path, f"contains {show(item)}, which JSON cannot carry")
                return
            elif item is not None and not isinstance(item, str | int | float | bool):
                yield self._error(path, f"contains a {json_type(item)}, which is not a JSON value")
                return

    def _type_error(self, path: str, shape: Shape, value: object) -> Problem:
        return self._error(path, f"must be {_expected(shape)}, not {json_type(value)}")

    def _error(self, path: str, message: str) -> Problem:
        return Problem(Severity.ERROR, self.file, message, field=path or None)


# Shape type -> the ShapeWalker check of a value of that type (documents are structures, told
# apart by their metadata, and checked before this table).
_KIND_CHECKS: dict[str, Callable[[ShapeWalker, object, Shape, str, int], Iterator[Problem]]] = {
    "structure": ShapeWalker._structure,
    "list": ShapeWalker._list,
    "map": ShapeWalker._map,
    "string": ShapeWalker._string,
    "integer": ShapeWalker._integer,
    "long": ShapeWalker._integer,
    "float": ShapeWalker._float,
    "double": ShapeWalker._float,
    "boolean": ShapeWalker._boolean,
    "blob": ShapeWalker._blob,
}


def _expected(shape: Shape) -> str:
    kind = shape.type_name
    if kind == "structure":
        return "any JSON value" if shape.metadata.get("document") else f"an object ({shape.name})"
    return {
        "list": "an array",
        "map": "an object",
        "string": "a string",
        "integer": "an integer",
        "long": "an integer",
        "float": "a number",
        "double": "a number",
        "boolean": "true or false",
        "blob": "a base64 string",
    }.get(kind, f"a {kind}")


def _unknown_key_message(key: str, where: str, allowed: list[str]) -> str:
    message = f"unknown key {key!r} in {where}; allowed: {', '.join(allowed)}"
    close = difflib.get_close_matches(key, allowed, n=1)
    return f"{message} (did you mean {close[0]!r}?)" if close else message
