"""The local Call Fabric chat server: REST and WebSocket (JSON-RPC) on one origin.

Start it with ``fabric-chat serve``, build it with :func:`fabric_chat_server.app.create_app`, or
run it in-process for tests with :class:`fabric_chat_server.testing.LocalServer`.
"""

__all__: list[str] = []
