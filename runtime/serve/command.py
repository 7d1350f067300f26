"""`kubefactory api CONFIG.yaml`: an OpenAI-compatible server, by the engine infer_backend names.

huggingface runs the built-in batching engine in this process; sglang and vllm replace this
process with their own OpenAI servers, started with a command built from the same config.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..commands import add_config_command
from ..errors import UserError

if TYPE_CHECKING:
    from ..config import TrainConfig
    from .settings import ApiSettings

_ENVIRONMENT = """environment (as LLaMA-Factory):
  API_HOST            address to listen on (default 0.0.0.0)
  API_PORT            port (default 8000)
  API_KEY             require 'Authorization: Bearer <API_KEY>' on /v1/* (default: no auth)
  API_MODEL_NAME      the base model's name in /v1/models and requests (default gpt-3.5-turbo)
  API_MAX_BATCH_SIZE  sequences the huggingface engine decodes at once (default 32)

adapters: plain adapter_name_or_path entries are merged into the base; name=path entries are
served side by side, each selected by the request's model field.

example:
  API_PORT=8000 kubefactory api my_lora_sft.yaml adapter_name_or_path=identity=saves/tiny/lora/sft"""


def register(subparsers: argparse._SubParsersAction) -> None:
    summary = "serve a model behind an OpenAI-compatible API (huggingface, sglang or vllm engine)"
    parser = add_config_command(
        subparsers,
        "api",
        summary,
        epilog=_ENVIRONMENT,
        config_help="a LLaMA-Factory YAML with model_name_or_path (and adapters, template)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check the config; for sglang/vllm print the engine command without running it",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from .settings import settings_from_env

    config = load_config(args.config, args.overrides)
    settings = settings_from_env(os.environ)
    backend = _BACKENDS.get(config.infer_backend)
    if backend is None:
        raise UserError(
            f"infer_backend: {config.infer_backend} is not supported; use huggingface, sglang or vllm"
        )
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s|%(name)s] %(message)s")
    return backend(config, settings, args.dry_run)


def _serve_builtin(config: TrainConfig, settings: ApiSettings, dry_run: bool) -> int:
    if dry_run:
        print(
            f"huggingface engine: would serve {config.model_name_or_path} on {settings.host}:{settings.port}"
        )
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import uvicorn

    from .server import build_app

    uvicorn.run(build_app(config, settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def _launch_engine(config: TrainConfig, settings: ApiSettings, dry_run: bool) -> int:
    from ..export.merge import is_complete_export
    from .launchers import engine_command, exec_engine, visible_accelerators

    visible = visible_accelerators(os.environ)
    if visible is None and not dry_run:
        from ..launch.accelerators import detect_accelerator  # asks the driver: imports torch

        visible = detect_accelerator().count
    export_complete = bool(config.export_dir) and is_complete_export(config.export_dir or "")
    argv = engine_command(config, settings, visible, export_complete)
    print(shlex.join(_masked(argv, settings.api_key)), flush=True)
    if not dry_run:
        exec_engine(argv)
    return 0


def _masked(argv: list[str], secret: str | None) -> list[str]:
    return [("***" if secret and item == secret else item) for item in argv]


_BACKENDS: dict[str, Callable[[TrainConfig, ApiSettings, bool], int]] = {
    "huggingface": _serve_builtin,
    "sglang": _launch_engine,
    "vllm": _launch_engine,
}
