"""The edge gate: every request byte is decoded and checked once, here, into typed values.

HTTP bodies, header values, path and query values and WebSocket frames pass through these
functions before anything else reads them (a request's through :func:`read_body`,
:func:`request_header` and :func:`page_params`, which answer a typed
:class:`~fabric_chat_server.errors.ApiError`). What comes out is valid UTF-8 text within the
limits of ``spec/chat.yaml`` (:data:`~fabric_chat.contract.LIMITS` and
:data:`~fabric_chat.contract.FIELD_RULES`); what does not raises :class:`GateError` with the
status, the message and the attribute at fault, before any state changes. So nothing stored
can fail to be read back: a message's text, metadata and details were all checked to encode.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, TypeVar

import msgspec
from aiohttp import web
from fabric_chat.contract import FIELD_RULES, LIMITS, FieldRule
from fabric_chat_runtime.contract import Route

from .errors import ApiError

__all__ = [
    "FRAME_DEPTH",
    "GateError",
    "check_fields",
    "check_id",
    "check_json_shape",
    "decode_json",
    "header_text",
    "page_params",
    "read_body",
    "request_header",
]

T = TypeVar("T")

FRAME_DEPTH = LIMITS.json_depth + 8
"""The deepest nesting of a whole body or frame: metadata's own limit plus its envelope."""

_DIGITS = re.compile(r"[0-9]+")
_JSON_TYPES = ("application/json",)
_MAX_PAGE_TOKEN = 1024  # far past any token the server makes
_PATH = re.compile(r"at `\$\.?([^`]*)`")
_MISSING = re.compile(r"missing required field `([^`]*)`")


class GateError(ValueError):
    """A request value the gate refuses.

    Args:
        status: The HTTP status (400 undecodable, 413 too large, 415, 422 out of limits).
        message: What is wrong, for people; never repeats the value.
        attribute: The field, parameter or header at fault.
    """

    def __init__(self, status: int, message: str, *, attribute: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.attribute = attribute


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    # JSON Schema's "$" ends the text; Python's also matches before a final newline.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _validation_attribute(error: msgspec.ValidationError) -> str | None:
    text = str(error)
    match = _PATH.search(text)
    path = match.group(1) if match is not None else ""
    missing = _MISSING.search(text)
    if missing is not None:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path or None


def decode_json(raw: bytes | str, body_type: type[T], *, what: str = "the request body") -> T:
    """Decode JSON into ``body_type``, refusing bytes that are not UTF-8 JSON.

    Raises:
        GateError: 400 for invalid UTF-8, a lone surrogate escape or malformed JSON, 422 for
            nesting past what any decoder takes, a number out of range, or the wrong shape.
    """
    try:
        # Not strict: JSON Schema counts 2.0 as an integer, so the server takes it as 2 (and,
        # more lenient than the schema, "2" too); 2.5 stays a float and is refused for an int.
        return msgspec.json.decode(raw, type=body_type, strict=False)
    except UnicodeDecodeError:
        raise GateError(400, f"{what} is not valid UTF-8") from None
    except RecursionError:
        raise GateError(422, f"{what} is nested too deeply") from None
    except msgspec.ValidationError as exc:
        raise GateError(422, str(exc), attribute=_validation_attribute(exc)) from None
    except msgspec.DecodeError:
        raise GateError(400, f"{what} is not valid JSON") from None


def check_json_shape(value: Any, *, depth: int, attribute: str | None) -> None:
    """Check free-form JSON: nesting, finite numbers and encodable text (no lone surrogates).

    ``{}`` and ``[]`` are one level; a scalar is none. Walks without recursion. (Integers of
    any size round-trip exactly through msgspec and the store, so they are kept.)

    Raises:
        GateError: 422 past ``depth`` levels or for a number that is not finite.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            if level + 1 > depth:
                raise GateError(422, f"nested deeper than {depth} levels", attribute=attribute)
            for key, child in item.items():
                _check_text(key, attribute)
                stack.append((child, level + 1))
        elif isinstance(item, list):
            if level + 1 > depth:
                raise GateError(422, f"nested deeper than {depth} levels", attribute=attribute)
            stack.extend((child, level + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item, attribute)
        elif isinstance(item, float) and not math.isfinite(item):
            raise GateError(422, "a number is not finite", attribute=attribute)


def _check_text(text: str, attribute: str | None) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise GateError(400, "text is not valid UTF-8", attribute=attribute) from None


def _check_field_text(text: str, attribute: str) -> None:
    """Check the text of a string field: encodable, and no U+0000.

    PostgreSQL keeps no U+0000 in text, so neither store takes one in a field, and the
    exported schemas say so (``not: {pattern: "\\u0000"}``). Free-form JSON (``metadata``,
    ``details``) is stored as JSON text, where a NUL is an escape like any other: it is kept.
    """
    _check_text(text, attribute)
    if "\x00" in text:
        raise GateError(
            422, f"{attribute} holds U+0000 (NUL), which is not allowed", attribute=attribute
        )


def _check_string(name: str, value: str, rule: FieldRule) -> None:
    _check_field_text(value, name)
    if rule.min_length is not None and len(value) < rule.min_length:
        raise GateError(422, f"{name} must not be empty", attribute=name)
    if rule.max_length is not None and len(value) > rule.max_length:
        status = 413 if name == "text" else 422
        raise GateError(
            status, f"{name} is longer than {rule.max_length} characters", attribute=name
        )
    if rule.pattern is not None and _regex(rule.pattern).search(value) is None:
        raise GateError(422, f"{name} does not have the allowed shape", attribute=name)
    if rule.enum is not None and value not in rule.enum:
        raise GateError(422, f"{name} must be one of {', '.join(rule.enum)}", attribute=name)


def _check_field(name: str, value: Any, rule: FieldRule) -> None:
    if value is None:
        return
    if isinstance(value, str):
        _check_string(name, value, rule)
    elif isinstance(value, int) and not isinstance(value, bool):
        if (rule.minimum is not None and value < rule.minimum) or (
            rule.maximum is not None and value > rule.maximum
        ):
            raise GateError(
                422, f"{name} must be in {rule.minimum}..{rule.maximum}", attribute=name
            )
    elif isinstance(value, list):
        if rule.max_items is not None and len(value) > rule.max_items:
            raise GateError(422, f"{name} has more than {rule.max_items} items", attribute=name)
        item_rule = FieldRule(max_length=rule.item_max_length, pattern=rule.item_pattern)
        for item in value:
            if isinstance(item, str):
                _check_string(name, item, item_rule)
    bounded = rule.bounded_by or ()
    too_long = isinstance(value, str) and len(value.encode()) > LIMITS.text_bytes
    if "text_bytes" in bounded and too_long:
        raise GateError(413, f"{name} is over {LIMITS.text_bytes} UTF-8 bytes", attribute=name)
    if "json_depth" in bounded:
        check_json_shape(value, depth=LIMITS.json_depth, attribute=name)
    if "json_bytes" in bounded and len(msgspec.json.encode(value)) > LIMITS.json_bytes:
        raise GateError(413, f"{name} is larger than {LIMITS.json_bytes} bytes", attribute=name)


def check_fields(value: msgspec.Struct) -> None:
    """Check a decoded request object against the spec's rules for its fields.

    Every string field is checked to be encodable (no lone surrogates) and to hold no U+0000,
    ruled or not.

    Raises:
        GateError: A field is past a limit of ``spec/chat.yaml``.
    """
    rules = FIELD_RULES.get(type(value).__name__, {})
    for name in value.__struct_fields__:
        field_value = getattr(value, name)
        rule = rules.get(name)
        if rule is not None:
            _check_field(name, field_value, rule)
        elif isinstance(field_value, str):
            _check_field_text(field_value, name)
        elif isinstance(field_value, msgspec.Struct):
            check_fields(field_value)


def check_id(value: str, attribute: str) -> str:
    """Return ``value`` when it has the shape of an id (``LIMITS.id_length``, ``id_pattern``).

    Raises:
        GateError: 422 for an id too long, empty, or holding anything outside the pattern
            (a NUL, a space, a control character, non-ASCII).
    """
    _check_string(
        attribute, value, FieldRule(max_length=LIMITS.id_length, pattern=LIMITS.id_pattern)
    )
    return value


def header_text(headers: Any, name: str) -> str | None:
    """Return a header's value as text, or ``None`` when absent.

    aiohttp decodes header bytes as UTF-8 with ``surrogateescape``; a value that was not
    UTF-8 comes back holding lone surrogates, which nothing past the gate may see.

    Raises:
        GateError: 400 for a value that is not valid UTF-8.
    """
    value: str | None = headers.get(name)
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise GateError(400, f"the {name} header is not valid UTF-8", attribute=name) from None
    return value


async def read_body(request: web.Request, body_type: type[T], *, max_bytes: int) -> T:
    """Read, decode and check a JSON body of at most ``max_bytes`` into ``body_type``.

    Raises:
        ApiError: 415 not ``application/json``, 413 over the size limit, 400 invalid UTF-8
            or malformed JSON, 422 wrong shape, types, or past a limit of the spec.
    """
    if request.content_type not in _JSON_TYPES or request.charset not in (None, "utf-8"):
        raise ApiError(415, "the request body must be application/json (UTF-8)")
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "the request body is too large")
    raw = await request.read()
    if len(raw) > max_bytes:
        raise ApiError(413, "the request body is too large")
    try:
        body = decode_json(raw, body_type)
        if isinstance(body, msgspec.Struct):
            check_fields(body)
    except GateError as exc:
        raise ApiError(exc.status, exc.message, attribute=exc.attribute) from None
    return body


def request_header(request: web.Request, name: str) -> str | None:
    """Return a header as checked text (see :func:`header_text`).

    Raises:
        ApiError: 400 for a value that is not valid UTF-8.
    """
    try:
        return header_text(request.headers, name)
    except GateError as exc:
        raise ApiError(exc.status, exc.message, attribute=exc.attribute) from None


def page_params(request: web.Request, route: Route) -> tuple[int, str | None]:
    """Return ``page_size`` (default and bounds from the contract) and ``page_token``.

    Raises:
        ApiError: 422 for a page size that is not plain ASCII digits or is out of bounds, or
            for an empty token.
    """
    spec = route.param("page_size")
    raw = request.query.get("page_size")
    if raw is None:
        size = int(spec.default) if isinstance(spec.default, int) else 10
    elif _DIGITS.fullmatch(raw) is None:  # not int() alone: it takes "1_0", "+5", " 5"
        raise ApiError(422, "page_size must be written with the digits 0-9", attribute="page_size")
    else:
        digits = raw.lstrip("0") or "0"
        size = int(digits) if len(digits) <= 9 else 10**9  # past any bound, never a huge int()
    low = spec.minimum if spec.minimum is not None else 1
    high = spec.maximum if spec.maximum is not None else 1000
    if not low <= size <= high:
        raise ApiError(422, f"page_size must be in {low}..{high}", attribute="page_size")
    token = request.query.get("page_token")
    if token is not None and not (0 < len(token) <= _MAX_PAGE_TOKEN and token.isascii()):
        raise ApiError(422, "page_token is not a valid page token", attribute="page_token")
    return size, token
