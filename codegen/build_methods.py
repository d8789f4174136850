"""The SDK methods of the spec as IR: signature, checks, docs and the one engine call each makes.

A method either names an ``operation`` (its parameters bound by name, its return derived, see
:mod:`codegen.binding`) or the engine's hand-written chat semantics (``engine``), whose
arguments and return are read from the runtime (:mod:`codegen.runtime_api`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .binding import Binding, Target, bind, engine_headers
from .build_objects import limit_value, literal
from .imports import ImportSet
from .ir import MethodIR, MethodParamIR, SyncMethodIR
from .runtime_api import EngineMethod, engine_methods, error_docs, result_types

__all__ = [
    "build_method",
    "iter_twin",
    "operation_engine_method",
    "returns_annotation",
    "sync_example",
    "sync_returns_annotation",
]

_DOC_WIDTH = 88
"""The widest one-line signature the reference shows; longer ones get a parameter a line."""
_RETURNS_DOC = {
    "page": (
        "The first page: ``data`` holds the items; ``has_next`` / ``has_prev``, "
        "``next_page()`` / ``prev_page()`` walk to older / newer pages."
    ),
    "iterator": "An async iterator over every item, page after page, newest first.",
    "subscription": (
        "An object will be returned with a cancel() function which can be used to "
        "unsubscribe to the event."
    ),
    "stream": "A MessageStream: ``async with ... as messages: async for message in messages``.",
}
_SYNC_RETURNS_DOC = {
    "page": (
        "The first page: ``data`` holds the items; ``for item in page`` walks every page; "
        "``has_next`` / ``has_prev``, ``next_page()`` / ``prev_page()`` walk to older / newer "
        "pages."
    ),
    "iterator": "An iterator over every item, page after page, newest first.",
    "stream": "A SyncMessageStream: ``with ... as messages: for message in messages``.",
}
_SYNC_PREFIX = "Sync"
"""The runtime's sync face of a result type ``X`` is ``SyncX`` (``SyncPage``, ...)."""
_OPERATION_RAISES = ("InvalidArgumentError", "APIError", "APIConnectionError", "APITimeoutError")
"""What a method bound to an operation documents it raises, unless its spec says."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


def _result_type(kind: str) -> str:
    return next(name for name, result in result_types().items() if result.kind == kind)


def returns_annotation(kind: str, item_type: str, uses: ImportSet) -> str:
    """Return the annotation of what a method of ``kind`` over ``item_type`` returns."""
    uses.use(item_type)
    if kind == "object":
        return item_type
    if kind == "iterator":
        uses.use("AsyncIterator")
        return f"AsyncIterator[{item_type}]"
    name = _result_type(kind)
    uses.use(name)
    return f"{name}[{item_type}]" if result_types()[name].generic else name


def sync_returns_annotation(kind: str, item_type: str, uses: ImportSet) -> str:
    """Return the annotation of what the sync twin of a method of ``kind`` returns."""
    uses.use(item_type)
    if kind == "object":
        return item_type
    if kind == "iterator":
        uses.use("Iterator")
        return f"Iterator[{item_type}]"
    name = _result_type(kind)
    sync_name = _SYNC_PREFIX + name
    uses.use(sync_name)
    return f"{sync_name}[{item_type}]" if result_types()[name].generic else sync_name


def _sync_call(kind: str, call: str, callback: str | None, uses: ImportSet) -> str:
    """Return what the sync twin returns: ``call`` (the engine call) run on its loop thread."""
    if kind == "object":
        return f"self._loop.run({call})"
    if kind == "iterator":
        return f"self._loop.iterate({call})"
    if kind == "subscription":
        if callback is None:
            msg = "a subscription method needs a callback parameter"
            raise LookupError(msg)
        uses.use("open_subscription")
        return f"open_subscription(self._loop, {callback}, lambda {callback}: {call})"
    sync_name = _SYNC_PREFIX + _result_type(kind)
    if kind == "page":
        return f"{sync_name}(self._loop.run({call}), self._loop)"
    return f"{sync_name}({call}, self._loop)"


def sync_example(example: str) -> str:
    """Return an async example as the sync client writes it: no ``await``, no ``async``."""
    return re.sub(r"\bawait |\basync (?=for\b|with\b)", "", example)


def operation_engine_method(kind: str) -> EngineMethod:
    """Return the engine method that calls one operation and gives back a ``kind``."""
    for method in engine_methods().values():
        if method.takes_operation and method.kind == kind:
            return method
    msg = f"the runtime's engine has no method that calls an operation and returns a {kind}"
    raise LookupError(msg)


def _annotation(param: dict[str, Any], item_type: str, uses: ImportSet) -> str:
    kind = param.get("type", "object" if "$ref" in param else "")
    if "$ref" in param:
        uses.use(param["$ref"])
        base = str(param["$ref"])
    elif kind == "object":
        uses.use("Mapping", "Any")
        base = "Mapping[str, Any]"
    elif kind == "array":
        item = param["items"]
        if "$ref" in item:
            uses.use(item["$ref"])
        uses.use("Sequence")
        base = f"Sequence[{item.get('$ref') or _SCALARS[item['type']]}]"
    elif kind == "callback":
        uses.use("Callable", item_type)
        return f"Callable[[{item_type}], object]"
    else:
        base = _SCALARS[kind]
    return f"{base} | None" if param.get("default", ...) is None else base


def _check(name: str, param: dict[str, Any], uses: ImportSet) -> str:
    kind = param.get("type")
    if "$ref" in param:
        uses.use("require_instance", param["$ref"])
        return f"require_instance({name!r}, {name}, {param['$ref']})"
    if kind == "string":
        uses.use("require_str")
        limit = f", max_length={param['max_length']!r}" if "max_length" in param else ""
        if "pattern" in param:
            limit += f", pattern={param['pattern']!r}"
        return f"require_str({name!r}, {name}, min_length={param.get('min_length', 0)}{limit})"
    if kind in {"integer", "number"}:
        check = "require_int" if kind == "integer" else "require_number"
        uses.use(check)
        low, high = param.get("minimum"), param.get("maximum")
        return f"{check}({name!r}, {name}, minimum={low!r}, maximum={high!r})"
    if kind == "boolean":
        uses.use("require_bool")
        return f"require_bool({name!r}, {name})"
    if kind == "object":
        uses.use("require_mapping")
        return f"require_mapping({name!r}, {name}, optional={'default' in param})"
    if kind == "array":
        item = param["items"]
        item_class = item.get("$ref") or _SCALARS[item["type"]]
        uses.use("require_sequence")
        return f"require_sequence({name!r}, {name}, {item_class})"
    uses.use("require_callable")
    return f"require_callable({name!r}, {name})"


def _method_param(
    name: str, param: dict[str, Any], item_type: str, uses: ImportSet
) -> MethodParamIR:
    has_default = "default" in param
    annotation = _annotation(param, item_type, uses)
    nullable = has_default and param["default"] is None and param.get("type") != "object"
    return MethodParamIR(
        name=name,
        js_name=param.get("js_name"),
        annotation=annotation,
        default=literal(param["default"]) if has_default else None,
        description=param["description"],
        check=_check(name, param, uses),
        nullable=nullable,
        doc_type=annotation,
        doc_default=literal(param["default"]) if has_default else "-",
    )


def _doc_signature(py_name: str, is_async: bool, parts: list[str], returns: str) -> str:
    head = f"{'async ' if is_async else ''}def {py_name}("
    one_line = f"{head}{'*, ' if parts else ''}{', '.join(parts)}) -> {returns}"
    if len(one_line) <= _DOC_WIDTH:
        return one_line
    lines = [head, "    *,", *(f"    {part}," for part in parts), f") -> {returns}"]
    return "\n".join(lines)


def _mapping(entries: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{wire!r}: {name}" for wire, name in entries) + "}"


def _operation_call(binding: Binding, engine: EngineMethod) -> list[str]:
    args = [repr(binding.operation), f"{engine.type_keyword}={binding.item_type}"]
    for location, keyword in (("path", "path"), ("query", "query"), ("header", "headers")):
        entries = [
            (t.wire_name, name) for name, t in binding.targets.items() if t.location == location
        ]
        if entries:
            args.append(f"{keyword}={_mapping(entries)}")
    if binding.body_type is not None:
        fields = [
            (t.wire_name, name) for name, t in binding.targets.items() if t.location == "body"
        ]
        args.append(f"body={_mapping(fields)}")
    for arg in args[2:]:
        keyword = arg.partition("=")[0]
        if keyword not in engine.keywords:
            msg = f"the runtime's engine.{engine.name} takes no {keyword!r}"
            raise LookupError(msg)
    return args


def _engine_call(
    method: dict[str, Any], engine: EngineMethod, item_type: str, headers: dict[str, Target]
) -> list[str]:
    fixed: dict[str, Any] = method["engine"].get("args", {})
    given = set(method["params"])

    def arg(name: str) -> str:
        return name if name in given else repr(fixed[name])

    args = [arg(name) for name in engine.positional]
    args.append(f"{engine.type_keyword}={item_type}")
    args.extend(f"{name}={arg(name)}" for name in engine.keywords if name in given | set(fixed))
    bound = [(t.wire_name, name) for name, t in headers.items() if name in given]
    if bound:
        args.append(f"headers={_mapping(bound)}")
    return args


def _with_target_limits(
    param: dict[str, Any], target: Target | None, limits: dict[str, Any]
) -> dict[str, Any]:
    """Return a parameter bound to a header with the header's length and pattern limits."""
    if target is None:
        return param
    merged = dict(param)
    for key in ("max_length", "pattern", "min_length"):
        if key in target.spec and key not in merged:
            merged[key] = limit_value(target.spec[key], limits)
    merged.setdefault("min_length", 1)
    return merged


def _example(owner: str, py_name: str, kind: str, params: tuple[MethodParamIR, ...]) -> str:
    args = ", ".join(
        f"{p.name}={p.default if p.default is not None else literal('...')}"
        for p in params
        if p.default is None
    )
    call = f"{owner}{py_name}({args})"
    if kind == "iterator":
        return f"async for item in {call}:\n    print(item)"
    target = "page" if kind == "page" else "result"
    return f"{target} = await {call}"


def build_method(
    data: dict[str, Any],
    owner: str,
    py_name: str,
    method: dict[str, Any],
    anchors: dict[str, str],
    uses: ImportSet,
) -> MethodIR:
    """Return the IR of one SDK method; ``owner`` is how it is reached (``client.chat.``)."""
    if "operation" in method:
        binding = bind(data, method)
        engine = operation_engine_method(binding.kind)
        kind, item_type = binding.kind, binding.item_type
        call_args = _operation_call(binding, engine)
        headers: dict[str, Target] = {}
    else:
        engine = engine_methods()[method["engine"]["method"]]
        kind, item_type = engine.kind, method["engine"]["type"]
        headers = engine_headers(data, method)
        call_args = _engine_call(method, engine, item_type, headers)
    uses.use(item_type)
    limits = data.get("limits", {})
    params = tuple(
        _method_param(name, _with_target_limits(param, headers.get(name), limits), item_type, uses)
        for name, param in method.get("params", {}).items()
    )
    parts = [
        f"{p.name}: {p.annotation}" + (f" = {p.default}" if p.default is not None else "")
        for p in params
    ]
    if engine.timeout:
        parts.append("timeout: float | None = None")
        call_args.append("timeout=timeout")
    returns = returns_annotation(kind, item_type, uses)
    docs = error_docs()
    raises = method.get("raises") or [
        name
        for name in _OPERATION_RAISES
        if name in docs and (params or name != "InvalidArgumentError")
    ]
    returns_spec: dict[str, Any] = method.get("returns", {})
    example = method.get("example") or _example(owner, py_name, kind, params)
    returns_doc = returns_spec.get("description") or _RETURNS_DOC.get(kind, f"The {item_type}.")
    callback = next(
        (name for name, p in method.get("params", {}).items() if p.get("type") == "callback"),
        None,
    )
    engine_call = f"self._engine.{engine.name}({', '.join(call_args)})"
    sync = SyncMethodIR(
        returns=sync_returns_annotation(kind, item_type, uses),
        returns_doc=_SYNC_RETURNS_DOC.get(kind, returns_doc)
        if "description" not in returns_spec
        else returns_doc,
        call=_sync_call(kind, engine_call, callback, uses),
        example=sync_example(example),
    )
    return MethodIR(
        py_name=py_name,
        js_name=method.get("js_name"),
        js_signature=method.get("js_signature"),
        is_async=engine.is_async,
        kind=kind,
        item_type=item_type,
        operation=method.get("operation"),
        takes_timeout=engine.timeout,
        params=params,
        signature=", ".join(parts),
        doc_signature=_doc_signature(py_name, engine.is_async, parts, returns),
        returns_refs=tuple(
            (name, anchors[name]) for name in _IDENTIFIER.findall(returns) if name in anchors
        ),
        returns=returns,
        returns_doc=returns_doc,
        summary=method["summary"],
        description=method.get("description", ""),
        raises=tuple((name, docs[name]) for name in raises),
        engine_method=engine.name,
        call_args=tuple(call_args),
        engine_call=engine_call,
        call=f"await {engine_call}" if engine.is_async else engine_call,
        twin_of=None,
        example=example,
        sync=sync,
    )


_PAGED_PREFIXES = ("get_", "list_")


def iter_twin_name(py_name: str) -> str:
    """Return the name of the ``iter_*`` twin of a paged method: ``get_messages``:
    ``iter_messages``, ``list_books``: ``iter_books``, ``latest``: ``iter_latest``."""
    for prefix in _PAGED_PREFIXES:
        if py_name.startswith(prefix):
            return "iter_" + py_name.removeprefix(prefix)
    return "iter_" + py_name


def iter_twin(page: MethodIR, owner: str, uses: ImportSet) -> MethodIR:
    """Return the ``iter_*`` twin of a paged method: the same arguments (``timeout`` bounds each
    page's request), every item of every page, in both clients."""
    name = iter_twin_name(page.py_name)
    uses.use("iter_pages")
    returns = returns_annotation("iterator", page.item_type, uses)
    parts = [page.signature] if page.signature else []
    example = _example(owner, name, "iterator", page.params)
    call = f"iter_pages(lambda: {page.engine_call})"
    return replace(
        page,
        py_name=name,
        js_name=None,
        js_signature=None,
        is_async=False,
        kind="iterator",
        doc_signature=_doc_signature(name, False, parts, returns),
        returns=returns,
        returns_doc=_RETURNS_DOC["iterator"],
        summary=f"Iterate over every item of every page of {page.py_name}, newest first.",
        description="Fetches each page only when the previous one is used up.",
        example=example,
        call=call,
        twin_of=page.py_name,
        sync=SyncMethodIR(
            returns=sync_returns_annotation("iterator", page.item_type, uses),
            returns_doc=_SYNC_RETURNS_DOC["iterator"],
            call=f"self._loop.iterate({call})",
            example=sync_example(example),
        ),
    )
