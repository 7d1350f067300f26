"""The base of every error whose message tells the user the whole story (no traceback needed)."""


class UserError(ValueError):
    """Bad input: the message names the field, file or row, and what would be right."""
