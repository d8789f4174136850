"""The REST routes of §4, registered from the generated route contract, both dialects."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web
from fabric_chat.contract import CONTRACT, LIMITS
from fabric_chat.models import (
    AddressPage,
    ConversationMessagePage,
    ConversationPage,
    CreateAddressRequest,
    CreateSubscriberTokenRequest,
    CreateSubscriberTokenResponse,
    JoinConversationRequest,
    JoinConversationResponse,
    PageLinks,
    SendMessageRequest,
    SubscriberInfo,
)
from fabric_chat_runtime.contract import Route

from .callers import authenticate, authenticate_project
from .conversations import resolve_for_history, resolve_for_join, resolve_for_send
from .encoding import encode
from .errors import ApiError
from .gate import GateError, check_id, page_params, read_body, request_header
from .health import get_health, get_readiness
from .pagination import PagedResult, PageTokenError, fetch_page
from .state import STATE, ServerState
from .store import ListKind, MessageRecord
from .views import ConversationLens, address_view

__all__ = ["HANDLERS", "register_routes"]

Handler = Callable[[web.Request, ServerState, Route], Awaitable[web.StreamResponse]]

_NON_BLANK = re.compile(LIMITS.name_pattern)


def _json(value: msgspec.Struct, status: int) -> web.Response:
    return web.Response(body=encode(value), status=status, content_type="application/json")


def _links(page: PagedResult) -> PageLinks:
    return PageLinks(
        self=page.self_url, first=page.first_url, next=page.next_url, prev=page.prev_url
    )


async def _page(
    request: web.Request, state: ServerState, route: Route, kind: ListKind, scope: str
) -> PagedResult:
    size, token = page_params(request, route)
    try:
        return await fetch_page(
            state.store,
            state.page_token_service,
            kind=kind,
            scope=scope,
            url=state.public_url(request),
            page_size=size,
            page_token=token,
        )
    except PageTokenError as exc:
        raise ApiError(422, str(exc), attribute="page_token") from None


def _name(value: str, attribute: str) -> str:
    # The gate checked the spec's limits (name_length, name_pattern); a name built here
    # (first and last name joined) is checked against the same ones.
    if _NON_BLANK.search(value) is None:
        raise ApiError(422, f"{attribute} must not be empty", attribute=attribute)
    if len(value) > LIMITS.name_length:
        raise ApiError(422, f"{attribute} is longer than {LIMITS.name_length}", attribute=attribute)
    return value


async def get_subscriber_info(
    request: web.Request, state: ServerState, route: Route
) -> web.Response:
    """``GET /api/fabric/subscriber/info``."""
    caller = await authenticate(request, state)
    info = SubscriberInfo(
        id=caller.subscriber.id,
        email=caller.subscriber.email,
        display_name=caller.subscriber.display_name or caller.subscriber.reference,
        fabric_addresses=[address_view(address) for address in caller.addresses],
    )
    return _json(info, route.status)


async def list_addresses(request: web.Request, state: ServerState, route: Route) -> web.Response:
    """``GET /api/fabric/addresses``: the project's address directory."""
    caller = await authenticate(request, state)
    name = request.query.get("name")
    if name is not None:
        return await _addresses_named(request, state, route, caller.project_id, name)
    page = await _page(request, state, route, "addresses", caller.project_id)
    body = AddressPage(data=[address_view(item) for item in page.items], links=_links(page))
    return _json(body, route.status)


async def _addresses_named(
    request: web.Request, state: ServerState, route: Route, project_id: str, name: str
) -> web.Response:
    # The official clients look a room up by name and take the first item: the addresses of
    # that name (at most two: a shared one first, then a subscriber's) on one page.
    size, _ = page_params(request, route)  # the same checks of page_size and page_token
    if len(name) > LIMITS.name_length:
        raise ApiError(422, f"name is longer than {LIMITS.name_length}", attribute="name")
    found = (await state.store.addresses_named(project_id, name))[:size]
    url = state.public_url(request)
    links = PageLinks(self=str(url), first=str(url.without_query_params("page_token")))
    return _json(
        AddressPage(data=[address_view(item) for item in found], links=links), route.status
    )


async def get_address(request: web.Request, state: ServerState, route: Route) -> web.Response:
    """``GET /api/fabric/addresses/{address_id}``."""
    caller = await authenticate(request, state)
    address_id = path_id(request, "address_id")
    address = await state.store.get_address(caller.project_id, address_id)
    if address is None:
        raise ApiError(404, "no such address", attribute="address_id")
    return _json(address_view(address), route.status)


async def create_address(request: web.Request, state: ServerState, route: Route) -> web.Response:
    """``POST /api/fabric/addresses`` (project auth): a room or app address."""
    project_id = await authenticate_project(request, state)
    body = await read_body(request, CreateAddressRequest, max_bytes=state.config.max_body_bytes)
    name = _name(body.name, "name")
    address = await state.store.ensure_address(
        project_id,
        name,
        display_name=body.display_name,
        type=body.type,
        cover_url=body.cover_url,
        preview_url=body.preview_url,
    )
    return _json(address_view(address), route.status)


async def create_subscriber_token(
    request: web.Request, state: ServerState, route: Route
) -> web.Response:
    """``POST /api/fabric/subscribers/tokens`` (project auth): mint a SAT."""
    project_id = await authenticate_project(request, state)
    body = await read_body(
        request, CreateSubscriberTokenRequest, max_bytes=state.config.max_body_bytes
    )
    reference = _name(body.reference, "reference")
    display_name = body.display_name
    if display_name is None:
        # Built from the parts, when any holds more than white space (else the reference).
        parts = [part.strip() for part in (body.first_name, body.last_name) if part]
        display_name = " ".join(part for part in parts if part) or None
    subscriber, _ = await state.store.ensure_subscriber(
        project_id, reference, display_name, body.email
    )
    token = state.token_service.mint(
        subscriber_id=subscriber.id,
        project_id=project_id,
        channel=state.channel_for(request),
        expires_at=body.expire_at,
    )
    return _json(CreateSubscriberTokenResponse(token=token), route.status)


async def join_conversation(request: web.Request, state: ServerState, route: Route) -> web.Response:
    """``POST /api/fabric/conversations/join``, either dialect."""
    caller = await authenticate(request, state)
    body = await read_body(request, JoinConversationRequest, max_bytes=state.config.max_body_bytes)
    conversation, own = await resolve_for_join(state.store, caller, body)
    state.relay.joined(conversation.group_id, caller.subscriber.id)
    lens = ConversationLens(state.store, caller.project_id, caller.address_ids)
    answer = JoinConversationResponse(
        group_id=conversation.group_id,
        fabric_address_ids=[lens.address_id_of(conversation), own],
        from_fabric_address_id=own,
    )
    return _json(answer, route.status)


async def list_conversations(
    request: web.Request, state: ServerState, route: Route
) -> web.Response:
    """``GET /api/fabric/conversations``: the caller's conversations."""
    caller = await authenticate(request, state)
    page = await _page(request, state, route, "conversations", caller.subscriber.id)
    lens = ConversationLens(state.store, caller.project_id, caller.address_ids)
    data = [await lens.conversation_view(item) for item in page.items]
    return _json(ConversationPage(data=data, links=_links(page)), route.status)


async def list_conversation_messages(
    request: web.Request, state: ServerState, route: Route
) -> web.Response:
    """``GET /api/fabric/conversations/{key}/messages``: key is a group id or an address id."""
    caller = await authenticate(request, state)
    size, _ = page_params(request, route)
    conversation = await resolve_for_history(state.store, caller, path_id(request, "key"))
    lens = ConversationLens(state.store, caller.project_id, caller.address_ids)
    if conversation is None:
        url = state.public_url(request)
        base = url.without_query_params("page_token").update_query(page_size=size)
        links = PageLinks(self=str(url), first=str(base))
        return _json(ConversationMessagePage(data=[], links=links), route.status)
    page = await _page(request, state, route, "conversation_messages", conversation.group_id)
    data = [await lens.message(item) for item in page.items]
    return _json(ConversationMessagePage(data=data, links=_links(page)), route.status)


async def list_messages(request: web.Request, state: ServerState, route: Route) -> web.Response:
    """``GET /api/fabric/messages``: every message of the caller's conversations."""
    caller = await authenticate(request, state)
    page = await _page(request, state, route, "subscriber_messages", caller.subscriber.id)
    lens = ConversationLens(state.store, caller.project_id, caller.address_ids)
    data = [await lens.message(item) for item in page.items]
    return _json(ConversationMessagePage(data=data, links=_links(page)), route.status)


def _content(message: MessageRecord) -> tuple[object, ...]:
    """What a send's body decides of its message: a replay must ask for the same."""
    return (
        message.group_id,
        message.from_address_id,
        message.text,
        message.metadata,
        message.details,
    )


def path_id(request: web.Request, name: str) -> str:
    """Return a path parameter that must be an id (the spec's id_length and id_pattern).

    Raises:
        ApiError: 422 for anything else (too long, a NUL, a space, non-ASCII, ...).
    """
    try:
        return check_id(request.match_info[name], name)
    except GateError as exc:
        raise ApiError(exc.status, exc.message, attribute=exc.attribute) from None


def idempotency_key(request: web.Request) -> str | None:
    """Return the ``Idempotency-Key`` header, checked (key_length, key_pattern), or ``None``.

    Raises:
        ApiError: 400 not UTF-8; 422 empty, too long or not visible ASCII.
    """
    key = request_header(request, "Idempotency-Key")
    if key is None:
        return None
    if not 0 < len(key) <= LIMITS.key_length or re.fullmatch(LIMITS.key_pattern, key) is None:
        raise ApiError(
            422,
            f"Idempotency-Key must be 1 to {LIMITS.key_length} visible ASCII characters",
            attribute="Idempotency-Key",
        )
    return key


async def send_message(request: web.Request, state: ServerState, route: Route) -> web.Response:
    """``POST /api/fabric/messages``, either dialect; ``Idempotency-Key`` makes it replayable."""
    caller = await authenticate(request, state)
    body = await read_body(request, SendMessageRequest, max_bytes=state.config.max_body_bytes)
    if len(body.text.encode()) > state.config.max_text_bytes:
        raise ApiError(413, "text is over the size limit", attribute="text")
    key = idempotency_key(request)
    conversation, own = await resolve_for_send(state.store, caller, body)
    if body.conversation_id is not None:  # the address dialect joins when needed
        state.relay.joined(conversation.group_id, caller.subscriber.id)
    record = MessageRecord(
        id=str(uuid.uuid4()),
        group_id=conversation.group_id,
        from_address_id=own,
        subscriber_id=caller.subscriber.id,
        user_name=caller.subscriber.display_name or caller.subscriber.reference,
        ts=0.0,
        type="message",
        subtype="chat",
        kind=None,
        text=body.text,
        metadata=body.metadata or {},
        details=body.details or {},
    )
    stored, created = await state.store.insert_message(
        record, None if key is None else (caller.subscriber.id, key)
    )
    if not created and _content(stored) != _content(record):
        raise ApiError(
            409,
            "this Idempotency-Key was already used with a different request body",
            code="idempotency_key_reused",
            attribute="Idempotency-Key",
        )
    if created:  # no lock: a session that sees a gap in seq catches up from the store
        await state.relay.publish(stored)
    lens = ConversationLens(state.store, caller.project_id, caller.address_ids)
    return _json(await lens.message(stored), route.status)


HANDLERS: dict[str, Handler] = {
    "getSubscriberInfo": get_subscriber_info,
    "listAddresses": list_addresses,
    "getAddress": get_address,
    "createAddress": create_address,
    "createSubscriberToken": create_subscriber_token,
    "joinConversation": join_conversation,
    "listConversations": list_conversations,
    "listConversationMessages": list_conversation_messages,
    "listMessages": list_messages,
    "sendMessage": send_message,
    "getHealth": get_health,
    "getReadiness": get_readiness,
}


def _bind(handler: Handler, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        return await handler(request, request.app[STATE], route)

    endpoint.__name__ = route.operation_id
    return endpoint


def register_routes(app: web.Application) -> None:
    """Add one aiohttp route per operation of the contract.

    Raises:
        RuntimeError: An operation has no handler (or a handler no operation).
    """
    operations = {route.operation_id for route in CONTRACT.routes}
    missing = sorted(operations - HANDLERS.keys())
    extra = sorted(HANDLERS.keys() - operations)
    if missing or extra:
        raise RuntimeError(f"route contract mismatch: missing {missing}, unknown {extra}")
    for route in CONTRACT.routes:
        app.router.add_route(route.method, route.path, _bind(HANDLERS[route.operation_id], route))
