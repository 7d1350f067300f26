"""Data errors name the dataset, the row and the rule that was broken."""

from ..errors import UserError


class DataError(UserError):
    """A dataset, file or row that cannot be used, with what would be right."""


class RowError(ValueError):
    """Why one row cannot be used; whoever catches it adds the dataset name and row number."""
