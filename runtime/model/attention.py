"""Per-example attention for padding-free batches, without FlashAttention.

A padding-free batch is one row holding several examples; their position ids restart at 0 where
an example starts. FlashAttention's varlen kernels attend within each example from those ids.
Plain SDPA would need a dense block-diagonal mask over the whole row and compute attention for
every pair of tokens in it, the masked-out ones included. This implementation — registered with
transformers' AttentionInterface under `VARLEN_SDPA` — calls SDPA once per example, causal and
unmasked, so attention costs Σ length² instead of (Σ length)². Batches with an attention mask
(padded evaluation batches) go to the standard SDPA path unchanged.
"""

from __future__ import annotations

from typing import Any

VARLEN_SDPA = "kubefactory_varlen_sdpa"
_registered = False


def segment_bounds(position_ids: Any) -> list[tuple[int, int]]:
    """(start, end) of each example in a row: a new one begins wherever positions do not go up by one."""
    positions = position_ids.reshape(-1).tolist()
    starts = [0] + [i for i in range(1, len(positions)) if positions[i] != positions[i - 1] + 1]
    return list(zip(starts, [*starts[1:], len(positions)], strict=True))


def varlen_sdpa_forward(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    position_ids: Any = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if (
        attention_mask is not None
        or position_ids is None
        or query.shape[0] != 1
        or query.shape[2] != key.shape[2]
    ):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)  # type: ignore[no-any-return]
    bounds = segment_bounds(position_ids)
    if len(bounds) == 1:
        return sdpa_attention_forward(module, query, key, value, None, **kwargs)  # type: ignore[no-any-return]
    parts = [
        sdpa_attention_forward(module, query[:, :, s:e], key[:, :, s:e], value[:, :, s:e], None, **kwargs)[0]
        for s, e in bounds
    ]
    return torch.cat(parts, dim=1), None  # sdpa_attention_forward returns [batch, seq, heads, dim]


def _mask(*args: Any, **kwargs: Any) -> Any:
    """SDPA's mask for padded batches; none for padding-free ones (the attention splits them)."""
    from transformers.masking_utils import sdpa_mask

    if kwargs.get("attention_mask") is None:
        return None
    return sdpa_mask(*args, **kwargs)


def register_varlen_sdpa() -> str:
    """Register the implementation once; returns the name to set as attn_implementation."""
    global _registered
    if not _registered:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface

        AttentionInterface.register(VARLEN_SDPA, varlen_sdpa_forward)
        AttentionMaskInterface.register(VARLEN_SDPA, _mask)
        _registered = True
    return VARLEN_SDPA


def use_varlen_sdpa(model: Any) -> bool:
    """Switch an SDPA model to per-example attention; False (unchanged) for other implementations."""
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", None) != "sdpa" or getattr(
        config, "is_encoder_decoder", False
    ):
        return False
    model.set_attn_implementation(register_varlen_sdpa())
    return True
