"""The ``fabric-chat`` click group; each area adds its commands in its own module.

Server commands live in :mod:`.serve` (``serve``) and :mod:`.admin` (``token``, ``room``). A
module adding more commands defines them and is listed in ``_COMMAND_MODULES``.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["main"]

_COMMAND_MODULES = (
    "fabric_chat_cli.serve",
    "fabric_chat_cli.admin",
    "fabric_chat_cli.chat",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fabric-chat")
def main() -> None:
    """Run the local Call Fabric chat server and talk to it."""


def _register() -> None:
    for module_name in _COMMAND_MODULES:
        module = importlib.import_module(module_name)
        for command in getattr(module, "COMMANDS", ()):
            main.add_command(command)


_register()
