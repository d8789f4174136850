"""Argument checks that the generated methods run before any network call.

Each check raises :class:`~fabric_chat_runtime.errors.InvalidArgumentError` naming the argument
and returns the value unchanged, so a generated method reads
``address_id = require_str("address_id", address_id, min_length=1)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec

from .errors import InvalidArgumentError

__all__ = [
    "require_bool",
    "require_callable",
    "require_instance",
    "require_int",
    "require_mapping",
    "require_number",
    "require_seconds",
    "require_sequence",
    "require_str",
]

_M = TypeVar("_M", bound="Mapping[str, Any] | None")
_T = TypeVar("_T")
_C = TypeVar("_C", bound=Callable[..., Any])


def require_str(
    name: str,
    value: object,
    *,
    min_length: int = 0,
    max_length: int | None = None,
    pattern: str | None = None,
) -> str:
    """Check that ``value`` is a ``str`` whose length is in bounds and that matches ``pattern``
    (a regular expression searched as JSON Schema does, when given)."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, not {type(value).__name__}")
    if len(value) < min_length or (not value.strip() and min_length > 0):
        raise InvalidArgumentError(f"{name} must not be empty")
    if max_length is not None and len(value) > max_length:
        raise InvalidArgumentError(f"{name} must be at most {max_length} characters")
    if pattern is not None and re.search(pattern, value) is None:
        raise InvalidArgumentError(f"{name} must match {pattern}")
    return value


def require_int(
    name: str, value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Check that ``value`` is an ``int`` (not a ``bool``) within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, not {type(value).__name__}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else str(minimum)
        high = "" if maximum is None else str(maximum)
        raise InvalidArgumentError(f"{name} must be in {low}..{high}, not {value}")
    return value


def require_number(
    name: str, value: object, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    """Check that ``value`` is a finite ``int`` or ``float`` (not a ``bool``) within bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgumentError(f"{name} must be a finite number, not {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else str(minimum)
        high = "" if maximum is None else str(maximum)
        raise InvalidArgumentError(f"{name} must be in {low}..{high}, not {value}")
    return float(value)


def require_bool(name: str, value: object) -> bool:
    """Check that ``value`` is a ``bool``."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be a bool, not {type(value).__name__}")
    return value


def require_instance(name: str, value: object, cls: type[_T]) -> _T:
    """Check that ``value`` is an instance of ``cls`` (a model of the SDK)."""
    if not isinstance(value, cls):
        raise InvalidArgumentError(f"{name} must be a {cls.__name__}, not {type(value).__name__}")
    return value


def require_sequence(name: str, value: object, item: type[_T]) -> list[_T]:
    """Check that ``value`` is a list or tuple whose items are ``item``; return it as a list."""
    if not isinstance(value, list | tuple):
        raise InvalidArgumentError(f"{name} must be a list, not {type(value).__name__}")
    for entry in value:
        if not isinstance(entry, item) or (isinstance(entry, bool) and item is not bool):
            raise InvalidArgumentError(
                f"{name} items must be {item.__name__}, not {type(entry).__name__}"
            )
    return list(value)


def require_mapping(name: str, value: _M, *, optional: bool = True) -> _M:
    """Check that ``value`` is a mapping with ``str`` keys whose values encode as JSON.

    ``None`` passes when ``optional``.
    """
    if value is None:
        if optional:
            return value
        raise InvalidArgumentError(f"{name} is required")
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{name} must be a mapping, not {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise InvalidArgumentError(f"{name} keys must be str, not {type(key).__name__}")
    try:
        msgspec.json.encode(dict(value))
    except (TypeError, ValueError, RecursionError, msgspec.EncodeError) as exc:
        raise InvalidArgumentError(f"{name} must encode as JSON: {exc}") from None
    return value


def require_seconds(name: str, value: object) -> float:
    """Check that ``value`` is a positive, finite number of seconds; return it as a float."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidArgumentError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def require_callable(name: str, value: _C) -> _C:
    """Check that ``value`` can be called."""
    if not callable(value):
        raise InvalidArgumentError(f"{name} must be callable, not {type(value).__name__}")
    return value
