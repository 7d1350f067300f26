"""Chat templates: a registry of data-defined templates and the tokenizer fixes they need."""

from .registry import builtin_templates, get_template
from .template import Template

__all__ = ["Template", "builtin_templates", "get_template"]
