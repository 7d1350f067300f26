"""Chat templates: a registry of data-defined templates and the tokenizer fixes they need."""

from .registry import builtin_templates, get_template
from .resolve import base_template, resolve_template
from .template import BoundTemplate, Template

__all__ = [
    "BoundTemplate",
    "Template",
    "base_template",
    "builtin_templates",
    "get_template",
    "resolve_template",
]
