"""The whole training config: every LLaMA-Factory key, flat, as users write their YAMLs."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError, model_validator

from .base import split_list
from .data import DataArguments
from .errors import ConfigError, ConfigIssue, dedupe, issue_from_pydantic
from .finetuning import FinetuningArguments
from .generation import GeneratingArguments
from .hf_training import HfTrainingArguments
from .legacy import translate_legacy_keys
from .model import ExportArguments, ModelArguments
from .training import LfTrainingArguments


class TrainConfig(
    ModelArguments,
    ExportArguments,
    DataArguments,
    FinetuningArguments,
    GeneratingArguments,
    LfTrainingArguments,
    HfTrainingArguments,
):
    """One validated config; the runtime's only entry point for settings."""

    @model_validator(mode="after")
    def _cross_field_rules(self) -> TrainConfig:
        issues = _cross_field_issues(self)
        if issues:
            raise ValueError("\n".join(str(issue) for issue in issues))
        if self.lora_alpha is None:
            self.lora_alpha = self.lora_rank * 2
        if self.packing is None:  # derived, not set by the user: model_fields_set keeps telling them apart
            self.__dict__["packing"] = self.stage == "pt"
        return self

    # Derived views: the runtime reads lists, users write comma strings.
    @property
    def dataset_names(self) -> list[str]:
        return split_list(self.dataset)

    @property
    def eval_dataset_names(self) -> list[str]:
        return split_list(self.eval_dataset)

    @property
    def lora_target_modules(self) -> list[str]:
        return split_list(self.lora_target)

    @property
    def adapter_paths(self) -> list[str]:
        return split_list(self.adapter_name_or_path)

    @property
    def additional_target_modules(self) -> list[str]:
        return split_list(self.additional_target)


def _cross_field_issues(cfg: TrainConfig) -> list[ConfigIssue]:
    """Rules that involve more than one key; each issue names the key a user must change."""
    issues: list[ConfigIssue] = []
    if cfg.quantization_bit is not None and cfg.quantization_bit not in (2, 3, 4, 5, 6, 8):
        issues.append(ConfigIssue("quantization_bit", f"got {cfg.quantization_bit}; use 4 or 8"))
    if cfg.quantization_bit is not None and cfg.finetuning_type not in ("lora", "oft"):
        issues.append(
            ConfigIssue(
                "quantization_bit",
                f"quantized training needs finetuning_type lora or oft, not {cfg.finetuning_type}",
            )
        )
    if cfg.bf16 and cfg.fp16:
        issues.append(ConfigIssue("fp16", "bf16 and fp16 are both true; choose one"))
    if cfg.stage != "sft" and cfg.predict_with_generate:
        issues.append(ConfigIssue("predict_with_generate", "only stage sft can predict with generate"))
    if cfg.neat_packing and cfg.packing is False:
        issues.append(ConfigIssue("neat_packing", "neat_packing needs packing: true (or unset)"))
    if cfg.val_size > 1 and cfg.val_size != int(cfg.val_size):
        issues.append(ConfigIssue("val_size", f"got {cfg.val_size}; use a fraction below 1 or a whole count"))
    if cfg.mix_strategy != "concat" and cfg.interleave_probs:
        probs = split_list(cfg.interleave_probs)
        if len(probs) != len(cfg.dataset_names):
            issues.append(
                ConfigIssue(
                    "interleave_probs", f"{len(probs)} probabilities for {len(cfg.dataset_names)} datasets"
                )
            )
    return issues


def known_keys() -> list[str]:
    return list(TrainConfig.model_fields)


def validate_config(values: dict[str, Any], source: str = "config") -> TrainConfig:
    """Validate a flat mapping of keys; raise ConfigError listing every problem."""
    try:
        return TrainConfig.model_validate(translate_legacy_keys(values))
    except ValidationError as err:
        issues: list[ConfigIssue] = []
        for error in err.errors():
            if error.get("type") == "value_error" and not error.get("loc"):
                issues += _split_cross_field(str(error.get("msg", "")))
            else:
                issues.append(issue_from_pydantic(dict(error), known_keys()))
        raise ConfigError(dedupe(issues), source) from None


def _split_cross_field(message: str) -> list[ConfigIssue]:
    text = message.removeprefix("Value error, ")
    out = []
    for line in text.splitlines():
        field, _, detail = line.partition(": ")
        out.append(ConfigIssue(field, detail))
    return out
