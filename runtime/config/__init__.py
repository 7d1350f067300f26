"""LLaMA-Factory-compatible training config: pydantic models, no heavy imports.

The operator imports this package to validate FineTuneJob training blocks, so nothing here may
import torch, transformers, peft, trl or datasets.
"""

from .errors import ConfigError, ConfigIssue
from .loader import load_config, parse_overrides, read_config_file
from .train_config import TrainConfig, known_keys, validate_config

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "TrainConfig",
    "known_keys",
    "load_config",
    "parse_overrides",
    "read_config_file",
    "validate_config",
]
