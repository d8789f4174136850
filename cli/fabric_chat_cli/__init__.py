"""The ``fabric-chat`` command line client (the ``cli`` extra): chat through the SDK, mint tokens
with the project's credentials, and start the local server (``serve``, the ``server`` extra).

The console script enters through :mod:`._launch`, which names a missing extra in one line; the
commands are in :mod:`.commands`. Importing this package imports nothing optional.
"""

__all__: list[str] = []
