"""`kubefactory api CONFIG.yaml`: an OpenAI-compatible server, by the engine infer_backend names.

huggingface runs the built-in batching engine in this process; sglang and vllm replace this
process with their own OpenAI servers, started with a command built from the same config.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import socket
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
  API_NUM_THREADS     torch CPU threads (default: half the CPUs the process may use, cgroup
                      quota included; see docs/benchmarks.md)
  API_DRAIN_TIMEOUT   seconds requests in flight may take to finish after SIGTERM (default 30)
  API_MAX_BODY_BYTES  largest request body, else 413 (default 2097152)
  API_MAX_MESSAGES, API_MAX_STOP, API_MAX_STOP_CHARS, API_MAX_N
                      most messages (1024), stop strings (16) of most characters (256), and
                      choices (16) per request, else 400

The key is checked as 'Authorization: Bearer <API_KEY>'; the scheme is case-insensitive (bearer
works too). Without API_KEY anyone who reaches the port may use the server: set API_HOST=127.0.0.1
or a key when the network is not trusted.

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

    overrides = [item for item in args.overrides if item != "--dry-run"]
    dry_run = args.dry_run or len(overrides) < len(args.overrides)  # `api cfg.yaml --dry-run`
    config = load_config(args.config, overrides)
    settings = settings_from_env(os.environ)
    backend = _BACKENDS.get(config.infer_backend)
    if backend is None:
        raise UserError(
            f"infer_backend: {config.infer_backend} is not supported; use huggingface, sglang or vllm"
        )
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s|%(name)s] %(message)s")
    return backend(config, settings, dry_run)


def _serve_builtin(config: TrainConfig, settings: ApiSettings, dry_run: bool) -> int:
    if dry_run:
        print(
            f"huggingface engine: would serve {config.model_name_or_path} on {settings.host}:{settings.port}"
        )
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sock = _listen(settings.host, settings.port)  # a taken port fails now, not after loading the model
    import torch
    import uvicorn

    from .server import build_app
    from .settings import available_cpus, default_threads

    log = logging.getLogger(__name__)
    if not settings.api_key and settings.host not in ("127.0.0.1", "::1", "localhost"):
        log.warning(
            "no API_KEY: anyone who reaches %s:%d may use this server (set API_KEY, or API_HOST=127.0.0.1)",
            settings.host,
            settings.port,
        )
    threads = settings.threads or default_threads(available_cpus())
    torch.set_num_threads(threads)
    log.info("torch CPU threads: %d (API_NUM_THREADS)", threads)
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(config, settings),
            log_level="info",
            timeout_graceful_shutdown=settings.drain_timeout_s,
        )
    )
    server.run(sockets=[sock])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise UserError(
            f"API_HOST/API_PORT: cannot listen on {host}:{port}: {err.strerror}; "
            "is another server using the port? choose another with API_PORT"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


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
