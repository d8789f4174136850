"""Run the chat server for the benchmarks: ``python -m bench._serve --db PATH ...``.

The same :func:`~fabric_chat_server.runner.run_server` as ``fabric-chat serve`` (same app,
same store, same first line ``listening on http://HOST:PORT``), bound to 127.0.0.1 on a free
port, with two settings the CLI does not expose: the signing secret (so that the deep-history
figure can build a page token at depth) and the per-subscriber rate limit, which is switched
off. With it on (200 requests/s per subscriber), the throughput figures would measure the
limiter's 429 answers and the SDK's retries, not the stack.

The project token and the signing secret come from the environment
(``FABRIC_CHAT_PROJECT_TOKEN``, ``FABRIC_CHAT_SIGNING_SECRET``, as ``fabric-chat serve`` reads
them), never from argv, where any user of the machine could read them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from fabric_chat_server.config import ServerConfig
from fabric_chat_server.runner import run_server

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m bench._serve")
    parser.add_argument("--db", required=True, help="a SQLite file or a postgresql:// URL")
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--rate-limit", type=float, default=0.0)
    parser.add_argument("--ping-interval", type=float, default=10.0)
    args = parser.parse_args(argv)
    postgres = args.db.startswith("postgresql://")
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    config = ServerConfig(
        host="127.0.0.1",
        port=0,
        db_path=Path(args.db) if not postgres else Path("unused.db"),
        database_url=args.db if postgres else None,
        project_id=args.project_id,
        project_token=os.environ["FABRIC_CHAT_PROJECT_TOKEN"],
        jwt_secret=os.environ["FABRIC_CHAT_SIGNING_SECRET"],
        rate_limit_per_second=args.rate_limit,
        connects_per_second=0.0,  # the figures open many sockets from one address at once
        max_sockets_per_subscriber=10_000,
        ping_interval=args.ping_interval,
    )
    asyncio.run(run_server(config))


if __name__ == "__main__":
    main()
