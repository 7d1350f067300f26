"""Command-line plumbing shared by the ``kubefactory`` commands, and commands of their own
(``operator_exec``: ``kubefactory operator`` hands over to the operator's entry point)."""

from .config_command import CONFIG_HELP, add_config_command

__all__ = ["CONFIG_HELP", "add_config_command"]
