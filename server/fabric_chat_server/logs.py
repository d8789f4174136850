"""Server log lines that a caller cannot forge: control characters are escaped.

A request path, header or body value reaches a log message only through a ``%s`` argument;
the formatter escapes every control character of the formatted message (``\\n`` becomes
``\\\\n``), so one record is one line. A traceback keeps its lines, each continuation line
indented, so no line of it can pass for a record of its own.
"""

from __future__ import annotations

import logging
import re

__all__ = ["LOG_FORMAT", "LogLineFormatter", "escape_controls"]

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """Return ``text`` with each control character written as an escape (``\\x1b``, ``\\n``)."""
    return _CONTROLS.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


class LogLineFormatter(logging.Formatter):
    """A :class:`logging.Formatter` whose records are one line each (tracebacks indented)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: logging._SysExcInfoType) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join("    " + escape_controls(line) for line in text.split("\n"))
