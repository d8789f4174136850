"""What the generator knows of the runtime, read from the runtime itself at generation time.

Nothing here is a hand-kept copy: the engine's methods (their arguments, the keyword that takes
the struct type, whether they wait, what they return), the error classes and their one-line
docs, the result types and the argument checks are all found by introspecting
``fabric_chat_runtime``. When the runtime changes, the next ``make gen`` follows (or a spec
that asks for something the runtime no longer has fails with its line).
"""

from __future__ import annotations

import collections.abc
import functools
import importlib
import inspect
import typing
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ENGINE",
    "EngineMethod",
    "ResultType",
    "engine_methods",
    "error_docs",
    "result_types",
    "symbol_module",
    "use_engine",
    "engine_path",
]

ENGINE = "fabric_chat_runtime.engine:Engine"
"""The runtime's engine: the class generated code calls unless the spec names a subclass of it
(``client.engine``, e.g. a package's hand-written ``lib``)."""
_engine = [ENGINE]
_ERRORS_MODULE = "fabric_chat_runtime.errors"
_SYMBOL_MODULES = (
    "fabric_chat_runtime.validation",
    _ERRORS_MODULE,
    "fabric_chat_runtime.client",
    "fabric_chat_runtime.contract",
    "fabric_chat_runtime.pagination",
    "fabric_chat_runtime.retry",
    "fabric_chat_runtime.session",
    "fabric_chat_runtime.state",
    "fabric_chat_runtime.sync",
    "fabric_chat_runtime.tokens",
    "fabric_chat_runtime.transport",
)
"""Where generated code finds the runtime names it uses (each module's ``__all__``)."""
_OPERATION_ARGUMENT = "operation_id"
_TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class ResultType:
    """A runtime class an engine method returns (``Page``, ``Subscription``, ...)."""

    name: str
    module: str
    kind: str
    """``page``, ``iterator``, ``subscription`` or ``stream``."""
    generic: bool
    """Whether it takes the item type as a parameter (``Page[T]``)."""


@dataclass(frozen=True, slots=True)
class EngineMethod:
    """One method of the engine, as its signature and annotations say."""

    name: str
    positional: tuple[str, ...]
    keywords: tuple[str, ...]
    optional: frozenset[str]
    annotations: dict[str, str]
    """Each argument's annotation, as written in the runtime (with the type variable)."""
    type_keyword: str
    timeout: bool
    is_async: bool
    kind: str
    """``object``, ``page``, ``iterator``, ``subscription`` or ``stream``."""
    takes_operation: bool


def use_engine(path: str) -> None:
    """Read ``path`` (``module:Class``) as the engine from now on (a spec's ``client.engine``)."""
    if _engine[0] != path:
        _engine[0] = path
        engine_methods.cache_clear()
        result_types.cache_clear()
        symbol_module.cache_clear()


def engine_path() -> str:
    """Return the engine in use, as ``module:Class``."""
    return _engine[0]


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _kind_of(hint: Any) -> tuple[str, Any]:
    """Return the kind of a return annotation and the runtime class behind it (or None)."""
    if isinstance(hint, typing.TypeVar):
        return "object", None
    origin = typing.get_origin(hint) or hint
    if origin in (collections.abc.AsyncIterator, collections.abc.AsyncIterable):
        return "iterator", None
    if not isinstance(origin, type):
        return "unknown", None
    if hasattr(origin, "next_page"):
        return "page", origin
    if hasattr(origin, "__aenter__") and hasattr(origin, "__aiter__"):
        return "stream", origin
    if hasattr(origin, "cancel"):
        return "subscription", origin
    return "unknown", None


def _struct_keyword(hints: dict[str, Any]) -> str | None:
    """Return the argument annotated ``type[T]``: the one that takes the struct type."""
    for name, hint in hints.items():
        if typing.get_origin(hint) is type and isinstance(typing.get_args(hint)[0], typing.TypeVar):
            return name
    return None


def _method(name: str, function: Any) -> EngineMethod | None:
    hints = typing.get_type_hints(function)
    type_keyword = _struct_keyword(hints)
    if type_keyword is None:
        return None
    signature = inspect.signature(function)
    params = [p for p in signature.parameters.values() if p.name != "self"]
    positional = tuple(
        p.name
        for p in params
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != _OPERATION_ARGUMENT
    )
    keywords = tuple(
        p.name
        for p in params
        if p.kind is p.KEYWORD_ONLY and p.name not in {type_keyword, _TIMEOUT}
    )
    kind, _ = _kind_of(hints.get("return"))
    return EngineMethod(
        name=name,
        positional=positional,
        keywords=keywords,
        optional=frozenset(p.name for p in params if p.default is not p.empty),
        annotations={p.name: str(p.annotation) for p in params},
        type_keyword=type_keyword,
        timeout=_TIMEOUT in signature.parameters,
        is_async=inspect.iscoroutinefunction(function),
        kind=kind,
        takes_operation=_OPERATION_ARGUMENT in signature.parameters,
    )


@functools.cache
def engine_methods() -> dict[str, EngineMethod]:
    """Return every public engine method that takes a struct type, by name."""
    engine = _load(engine_path())
    found: dict[str, EngineMethod] = {}
    for name, function in inspect.getmembers(engine, inspect.isfunction):
        if name.startswith("_"):
            continue
        method = _method(name, function)
        if method is not None:
            found[name] = method
    return found


@functools.cache
def result_types() -> dict[str, ResultType]:
    """Return the runtime classes the engine's methods return, by name."""
    engine = _load(engine_path())
    found: dict[str, ResultType] = {}
    for name in engine_methods():
        hint = typing.get_type_hints(getattr(engine, name)).get("return")
        kind, cls = _kind_of(hint)
        if cls is not None:
            found[cls.__name__] = ResultType(
                name=cls.__name__,
                module=cls.__module__,
                kind=kind,
                generic=bool(typing.get_args(hint)),
            )
    return found


def _first_line(doc: str | None) -> str:
    line = (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""
    return line[:1].upper() + line[1:]


@functools.cache
def error_docs() -> dict[str, str]:
    """Return each public exception class of the runtime with its docstring's first line."""
    module = importlib.import_module(_ERRORS_MODULE)
    found: dict[str, str] = {}
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            found[name] = _first_line(value.__doc__)
    return dict(sorted(found.items()))


@functools.cache
def symbol_module(name: str) -> str:
    """Return the runtime module that defines ``name`` (a check, an error, the engine...)."""
    if name == _load(engine_path()).__name__:
        return engine_path().partition(":")[0]
    if name == _load(ENGINE).__name__:
        return ENGINE.partition(":")[0]
    if name in result_types():
        return result_types()[name].module
    for module_name in _SYMBOL_MODULES:
        module = importlib.import_module(module_name)
        if name in getattr(module, "__all__", ()):
            return module_name
    msg = f"the runtime has no {name!r}"
    raise LookupError(msg)
