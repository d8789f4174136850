"""Benchmarks of fabric-chat: ``python -m bench [--only FIGURE] [--quick]``.

Each figure measures our code against a baseline doing the same work in the same run (plain
aiohttp + msgspec, no SDK, or another library), alternating the two so that the ratio holds on a
noisy machine. See ``BENCHMARKS.md`` for the latest table.
"""

__all__: list[str] = []
