"""The fabric-chat generator: ``spec/chat.yaml`` -> checked IR -> ``generated/`` and ``docs/``.

Run it as ``python -m codegen gen`` (write) or ``python -m codegen check`` (fail when stale).
A dev tool: it is not part of the installed distribution.
"""

__all__: list[str] = []
