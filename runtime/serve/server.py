"""The built-in server assembled: model → batching engine → completion service → FastAPI app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..config import TrainConfig
    from .settings import ApiSettings


def build_app(config: TrainConfig, settings: ApiSettings) -> FastAPI:
    from ..model.inference import load_for_inference, plan_adapters
    from .app import create_app
    from .completions import CompletionService
    from .hf_engine import BatchingEngine
    from .metrics import ServerMetrics

    if settings.model_name in plan_adapters(config.adapter_name_or_path).named:
        raise UserError(
            f"adapter_name_or_path: the adapter name '{settings.model_name}' is also the base model's served name "
            "(API_MODEL_NAME); rename one of them"
        )
    loaded = load_for_inference(config)
    metrics = ServerMetrics()
    engine = BatchingEngine(
        loaded,
        max_batch_size=settings.max_batch_size,
        on_step=metrics.batch_size.observe,
        skip_special_tokens=config.skip_special_tokens,
    )
    service = CompletionService(
        engine, loaded.template, loaded.tokenizer, config, settings.model_name, metrics, settings
    )
    return create_app(service, settings)
