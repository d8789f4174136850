"""The ``fabric-chat`` click group; each area adds its commands in its own module.

Server commands live in :mod:`.serve` (``serve``) and :mod:`.admin` (``token``, ``room``). A
module adding more commands defines them and is listed in ``_COMMAND_MODULES``.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["LOG_VARIABLE_HELP", "main"]

_COMMAND_MODULES = (
    "fabric_chat_cli.serve",
    "fabric_chat_cli.admin",
    "fabric_chat_cli.chat",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fabric-chat")
def main() -> None:
    """Run the local Call Fabric chat server and talk to it."""


#: What every command's ``--help`` ends with: the variable the SDK reads for itself.
LOG_VARIABLE_HELP = (
    "Environment: FABRIC_CHAT_LOG=info (or debug) logs the SDK's requests, retries and "
    "reconnects on stderr, never a token."
)


def _name_the_environment(command: click.Command) -> None:
    """Make ``--help`` name every variable the command reads: each option's, and the log's."""
    for param in command.params:
        if isinstance(param, click.Option) and param.envvar:
            param.show_envvar = True
    epilog = (command.epilog or "").strip()
    command.epilog = f"{epilog}\n\n{LOG_VARIABLE_HELP}" if epilog else LOG_VARIABLE_HELP


def _register() -> None:
    for module_name in _COMMAND_MODULES:
        module = importlib.import_module(module_name)
        for command in getattr(module, "COMMANDS", ()):
            _name_the_environment(command)
            main.add_command(command)


_register()
