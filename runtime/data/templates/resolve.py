"""From a config and a tokenizer to the template training uses, with the tokenizer fixed to match."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ...errors import UserError
from .jinja import fix_jinja_template, parse_chat_template
from .registry import get_template
from .template import Template
from .tokenizer_fix import fix_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ...config import TrainConfig

log = logging.getLogger(__name__)


def base_template(name: str | None, tokenizer: PreTrainedTokenizerBase) -> Template:
    """The named template; without a name, the tokenizer's own chat template; else `empty`."""
    if name:
        return get_template(name)
    if isinstance(getattr(tokenizer, "chat_template", None), str):
        log.warning(
            "template is not set: using the tokenizer's own chat template; set template: to be explicit"
        )
        try:
            return parse_chat_template(tokenizer)
        except Exception as err:  # a Jinja template that cannot render marker messages
            raise UserError(
                f"template is not set and the tokenizer's chat template cannot be parsed ({err}); "
                "set template: to one of the built-in templates"
            ) from None
    log.warning(
        "template is not set and the tokenizer has no chat template: using 'empty' (no chat formatting)"
    )
    return get_template("empty")


def resolve_template(config: TrainConfig, tokenizer: PreTrainedTokenizerBase) -> Template:
    """The template for this config, with its overrides applied; fixes eos/pad/stop words and the
    tokenizer's Jinja chat template in place, as LLaMA-Factory does before tokenizing."""
    template = base_template(config.template, tokenizer)
    if config.train_on_prompt and template.efficient_eos:
        raise UserError(
            f"train_on_prompt: template '{template.name}' appends eos once at the end (efficient_eos), "
            "which cannot be combined with learning the prompt; set train_on_prompt: false"
        )
    try:
        template = template.with_options(
            tool_format=config.tool_format,
            default_system=config.default_system,
            enable_thinking=config.enable_thinking,
            preserve_thinking=config.preserve_thinking,
        )
    except ValueError as err:
        raise UserError(str(err)) from None
    fix_tokenizer(tokenizer, template)
    fix_jinja_template(tokenizer, template)
    return template
