"""aiosqlite's DEBUG lines without the query parameters, which may hold secrets.

aiosqlite logs every call it queues with its arguments: the signing secret (a setting), message
texts, token hashes. :func:`hide_query_parameters` keeps those lines but shows only each call's
SQL, so a server log at DEBUG holds no secret.
"""

from __future__ import annotations

import functools
import logging

__all__ = ["hide_query_parameters"]

_SQL_SHOWN = 120  # characters of a statement shown in a DEBUG line


class _HideQueryParameters(logging.Filter):
    """Keep aiosqlite's DEBUG lines, but show each call's SQL only, never its parameters.

    aiosqlite logs every queued call with its arguments, and those include the signing secret
    (a setting), message texts and hashes; a server log at DEBUG must show none of them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_describe(arg) for arg in record.args)
        return True


def _describe(value: object) -> object:
    if not isinstance(value, functools.partial):
        return value
    name = getattr(value.func, "__name__", "call")
    sql = value.args[0] if value.args and isinstance(value.args[0], str) else ""
    sql = " ".join(sql.split())
    if len(sql) > _SQL_SHOWN:
        sql = sql[: _SQL_SHOWN - 3] + "..."
    return f"{name}({sql!r})" if sql else f"{name}()"


_FILTER = _HideQueryParameters()


def hide_query_parameters() -> None:
    """Attach the filter to aiosqlite's logger (idempotent)."""
    logging.getLogger("aiosqlite").addFilter(_FILTER)
