"""CORS on the subscriber API, so that browser apps on their own origin can use it.

The official JavaScript clients run in a page of the app's origin and call
``https://fabric.<domain>`` with ``Authorization: Bearer <SAT>`` and a JSON body: a cross-origin
request with a preflight. This module answers those preflights and marks the answers.

- Only the routes a subscriber calls with its token (``auth: bearer`` in the spec) answer CORS.
  The project routes (HTTP Basic) and the health checks do not: a project's API token belongs
  on a server, and a page that holds one is a leak, not a use case.
- The default is ``Access-Control-Allow-Origin: *`` without credentials. A bearer token is not
  an ambient credential: the browser never attaches it on its own, so a foreign page can do
  nothing the token's holder did not hand it. (Cookies and HTTP auth are never allowed:
  ``Access-Control-Allow-Credentials`` is never sent.) An operator can list exact origins
  instead (the matching one is echoed, with ``Vary: Origin``), or turn CORS off.
- A preflight is answered here, before authentication, the rate limits and the store: it
  needs no token and costs what a 404 costs. The ``Origin`` a caller sends is never echoed
  unless it is one of the configured origins, so a strange one changes nothing.
"""

from __future__ import annotations

from collections import defaultdict

from aiohttp import web
from fabric_chat.contract import CONTRACT
from yarl import URL

from .errors import error_response
from .request_log import REQUEST_ID

__all__ = ["ANY_ORIGIN", "CorsPolicy", "add_cors", "check_origins"]

ANY_ORIGIN = "*"

#: Request headers a page may send: the token, JSON bodies, idempotent sends, request ids.
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", REQUEST_ID)
#: Answer headers a page may read besides the safelisted ones.
EXPOSED_HEADERS = ("Retry-After", REQUEST_ID)
#: Seconds a browser may keep a preflight's answer.
MAX_AGE = 600


def check_origins(origins: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Return ``origins`` checked: ``*`` alone, or exact ``http(s)://host[:port]`` origins.

    Raises:
        ValueError: A value is not an origin (a path, a query, another scheme, a trailing
            slash) or ``*`` is mixed with origins.
    """
    values = tuple(origins)
    if ANY_ORIGIN in values:
        if len(values) > 1:
            raise ValueError("'*' allows every origin: give it alone")
        return values
    for value in values:
        try:
            url = URL(value)
            origin = str(url.origin())
            exact = url.scheme in ("http", "https") and bool(url.host) and value == origin
        except ValueError:
            exact = False
        if not exact:
            raise ValueError(
                f"{value[:100]!r} is not an origin: write scheme://host[:port], as a browser "
                "sends it (https://app.example.com), with no path or trailing slash"
            )
    return values


class CorsPolicy:
    """Which origins may call which methods of which subscriber routes."""

    def __init__(self, origins: tuple[str, ...]) -> None:
        self.origins = check_origins(origins)
        self._any = self.origins == (ANY_ORIGIN,)
        methods: defaultdict[str, set[str]] = defaultdict(set)
        for route in CONTRACT.routes:
            if route.auth == "bearer":
                methods[route.path].add(route.method)
        self.methods = {path: tuple(sorted(found)) for path, found in methods.items()}

    def allow_origin(self, origin: str | None) -> str | None:
        """Return the ``Access-Control-Allow-Origin`` value for ``origin``, or ``None``."""
        if self._any:
            return ANY_ORIGIN
        return origin if origin is not None and origin in self.origins else None

    def mark(self, request: web.Request, response: web.StreamResponse) -> None:
        """Add the CORS headers to the answer of a subscriber route."""
        info = request.match_info
        path = info.route.resource.canonical if info.route.resource is not None else None
        if path is None or request.method not in self.methods.get(path, ()):
            return
        allowed = self.allow_origin(request.headers.get("Origin"))
        if not self._any:
            response.headers.add("Vary", "Origin")
        if allowed is not None:
            response.headers["Access-Control-Allow-Origin"] = allowed
            response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)

    async def preflight(self, request: web.Request) -> web.Response:
        """Answer ``OPTIONS`` on a subscriber route: a CORS preflight, or which methods exist."""
        path = request.match_info.route.resource.canonical  # type: ignore[union-attr]
        methods = self.methods[path]
        origin = request.headers.get("Origin")
        wanted = request.headers.get("Access-Control-Request-Method")
        vary = {} if self._any else {"Vary": "Origin"}
        if origin is None or wanted is None:  # a plain OPTIONS, not a preflight
            return web.Response(status=204, headers={"Allow": ", ".join(("OPTIONS", *methods))})
        allowed = self.allow_origin(origin)
        if allowed is None:
            return error_response(
                403, "cross-origin calls from this origin are not allowed", headers=vary
            )
        if wanted not in methods:
            return error_response(
                403, "this method may not be called cross-origin here", headers=vary
            )
        return web.Response(
            status=204,
            headers={
                **vary,
                "Access-Control-Allow-Origin": allowed,
                "Access-Control-Allow-Methods": ", ".join(methods),
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
                "Access-Control-Max-Age": str(MAX_AGE),
            },
        )


_POLICY = web.AppKey("fabric_chat_cors", CorsPolicy)


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    if request.method != "OPTIONS":
        request.app[_POLICY].mark(request, response)


def add_cors(app: web.Application, origins: tuple[str, ...]) -> None:
    """Answer preflights on the subscriber routes of ``app`` and mark their answers.

    Call after the routes are registered. With no ``origins`` nothing is added: the API then
    answers no CORS (and ``OPTIONS`` is a 405, as before).

    Raises:
        ValueError: ``origins`` holds something that is not an origin (see :func:`check_origins`).
    """
    if not origins:
        check_origins(origins)
        return
    policy = CorsPolicy(origins)
    app[_POLICY] = policy
    for path in policy.methods:
        app.router.add_route("OPTIONS", path, policy.preflight)
    app.on_response_prepare.append(_on_prepare)
