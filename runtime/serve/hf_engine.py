"""The built-in engine: continuous batching over a Hugging Face model, on CPU or GPU.

One thread owns the model. Each iteration it admits waiting sequences (one batched, left-padded
prefill whose KV cache is merged into the running batch), then runs one decoding step for every
running sequence at once, each row with its own sampling settings and, under multi-LoRA, its own
adapter. Finished rows leave the batch after the step that finished them; new requests join
without waiting for the others to finish. Text goes out per sequence as soon as it is complete.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .engine import Emit, FinishReason, GenerationEvent, GenerationRequest, TokenLogprob
from .sampling import SamplingParams, needs_history, sample_next_tokens
from .streaming_text import IncrementalDecoder, StopMatcher

if TYPE_CHECKING:
    from ..model.inference import InferenceModel

log = logging.getLogger(__name__)

BASE_ADAPTER = "__base__"  # peft's name for "no adapter" in a mixed-adapter batch


class UnknownAdapterError(ValueError):
    pass


@dataclass(eq=False)
class _Sequence:
    request: GenerationRequest
    emit: Emit
    decoder: IncrementalDecoder
    stopper: StopMatcher
    generated: list[int] = field(default_factory=list)
    cancelled: bool = False
    finished: bool = False
    generator: Any = None  # torch.Generator of a seeded request
    matcher: Any = None  # llguidance.LLMatcher of a schema-constrained request
    logprobs: list[TokenLogprob] = field(default_factory=list)  # not yet emitted

    def cancel(self) -> None:
        self.cancelled = True  # read by the engine thread before its next step

    @property
    def params(self) -> SamplingParams:
        return self.request.params


@dataclass
class _Batch:
    """Running sequences and their shared, left-padded KV cache."""

    rows: list[_Sequence] = field(default_factory=list)
    cache: Any = None  # transformers DynamicCache, batch dimension = rows
    mask: Any = None  # [rows, columns] 1 for real tokens, 0 for left padding
    next_tokens: Any = None  # [rows] the last sampled token of each row, fed at the next step


class BatchingEngine:
    def __init__(
        self,
        loaded: InferenceModel,
        max_batch_size: int = 32,
        max_prefill_tokens: int = 16384,
        on_step: Callable[[int], None] | None = None,
        skip_special_tokens: bool = True,
    ) -> None:
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.adapters = loaded.adapters
        self.context_length = loaded.context_length
        self.device = loaded.device
        self.max_batch_size = max_batch_size
        self.max_prefill_tokens = max_prefill_tokens
        self.on_step = on_step
        self.stop_token_ids = stop_token_ids(loaded)
        self.hidden_token_ids = hidden_token_ids(loaded) if skip_special_tokens else frozenset()
        self._uses_peft = bool(loaded.adapters)
        self._cache_kwarg = _cache_argument(loaded.model)
        self._pending: deque[_Sequence] = deque()
        self._batch = _Batch()
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._grammar_tokenizer: Any = None
        self._grammar_lock = threading.Lock()
        self._vocab = int(loaded.model.get_output_embeddings().weight.shape[0])

    # -- the caller's side (any thread) -------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kubefactory-engine", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def healthy(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._closed

    def submit(self, request: GenerationRequest, emit: Emit) -> _Sequence:
        if request.adapter is not None and request.adapter not in self.adapters:
            raise UnknownAdapterError(
                f"adapter '{request.adapter}' is not loaded; loaded: {list(self.adapters)}"
            )
        sequence = _Sequence(
            request,
            emit,
            IncrementalDecoder(self.tokenizer, self.hidden_token_ids),
            StopMatcher(request.params.stop),
        )
        if request.seed is not None:
            import torch

            sequence.generator = torch.Generator().manual_seed(request.seed)
        if request.json_schema is not None:
            sequence.matcher = self.json_matcher(request.json_schema)
        with self._wake:
            if self._closed:
                raise RuntimeError("the engine is shut down")
            self._pending.append(sequence)
            self._wake.notify()
        return sequence

    def json_matcher(self, schema: str) -> Any:
        """A fresh llguidance matcher for JSON text matching `schema`; ValueError when the schema
        cannot be compiled. The first call wraps the tokenizer (about a second for large vocabularies)."""
        try:
            import llguidance
            import llguidance.hf
        except ImportError:
            raise ValueError(
                "JSON mode needs the llguidance package (pip install 'kubefactory[serve]')"
            ) from None
        with self._grammar_lock:
            if self._grammar_tokenizer is None:
                eos = sorted(self.stop_token_ids)
                self._grammar_tokenizer = llguidance.hf.from_tokenizer(
                    cast(Any, self.tokenizer), n_vocab=self._vocab, eos_token=eos[0] if len(eos) == 1 else eos
                )
        grammar = llguidance.LLMatcher.grammar_from_json_schema(
            schema, defaults={"whitespace_flexible": False}
        )
        matcher = llguidance.LLMatcher(self._grammar_tokenizer, grammar)
        if matcher.is_error():
            raise ValueError(matcher.get_error())
        return matcher

    # -- the engine thread ---------------------------------------------------------------------

    def _run(self) -> None:
        import torch

        with torch.inference_mode():
            while True:
                with self._wake:
                    while not self._closed and not self._pending and not self._batch.rows:
                        self._wake.wait()
                    if self._closed:
                        self._fail_all("the server is shutting down")
                        return
                    admitted = self._admit()
                try:
                    if admitted:
                        self._prefill(admitted)
                    self._drop_done_rows()
                    if self._batch.rows:
                        self._decode_step()
                        self._drop_done_rows()
                except Exception as err:  # keep serving: fail the sequences in flight, not the server
                    log.exception("generation failed")
                    for sequence in [*self._batch.rows, *admitted]:
                        self._finish(sequence, "error", error=f"generation failed: {err}")
                    self._batch = _Batch()

    def _admit(self) -> list[_Sequence]:
        """Waiting sequences that fit the batch and the prefill token budget (at least one)."""
        admitted: list[_Sequence] = []
        tokens = 0
        while self._pending and len(self._batch.rows) + len(admitted) < self.max_batch_size:
            sequence = self._pending[0]
            if sequence.cancelled:
                self._pending.popleft()
                continue
            size = len(sequence.request.prompt_ids)
            if admitted and tokens + size > self.max_prefill_tokens:
                break
            admitted.append(self._pending.popleft())
            tokens += size
        return admitted

    def _prefill(self, admitted: list[_Sequence]) -> None:
        import torch
        from transformers import DynamicCache

        prompts = [s.request.prompt_ids for s in admitted]
        width = max(len(p) for p in prompts)
        pad = int(self.tokenizer.pad_token_id or 0)
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        logits = self._forward(input_ids, mask, positions, cache, admitted)
        params = [s.params for s in admitted]
        tokens = self._sample(logits, admitted, prompts if needs_history(params) else None)
        self._join(admitted, cache, mask, tokens)
        for sequence, token in zip(admitted, tokens.tolist(), strict=True):
            self._accept(sequence, token)

    def _decode_step(self) -> None:
        import torch

        batch = self._batch
        batch.mask = torch.cat([batch.mask, batch.mask.new_ones((len(batch.rows), 1))], dim=1)
        positions = (batch.mask.sum(-1, keepdim=True) - 1).clamp(min=0)
        logits = self._forward(batch.next_tokens[:, None], batch.mask, positions, batch.cache, batch.rows)
        params = [s.params for s in batch.rows]
        histories = (
            [s.request.prompt_ids + s.generated for s in batch.rows] if needs_history(params) else None
        )
        tokens = self._sample(logits, batch.rows, histories)
        batch.next_tokens = tokens
        if self.on_step is not None:
            self.on_step(len(batch.rows))
        for sequence, token in zip(batch.rows, tokens.tolist(), strict=True):
            self._accept(sequence, token)

    def _sample(self, logits: Any, rows: list[_Sequence], histories: Any) -> Any:
        """Grammar masks, then sampling (each seeded row by its own generator), then logprobs."""
        constrained = [i for i, s in enumerate(rows) if s.matcher is not None]
        if constrained:
            import llguidance.torch as llg

            logits = logits.float()
            bitmask = llg.allocate_token_bitmask(1, self._vocab)
            for i in constrained:
                llg.fill_next_token_bitmask(rows[i].matcher, bitmask, 0)
                llg.apply_token_bitmask_inplace(logits[i : i + 1], bitmask.to(logits.device))
        generators = [s.generator for s in rows]
        tokens = sample_next_tokens(
            logits,
            [s.params for s in rows],
            histories,
            generators if any(g is not None for g in generators) else None,
        )
        wanted = [i for i, s in enumerate(rows) if s.request.logprobs is not None]
        if wanted:
            self._record_logprobs(logits, rows, tokens, wanted)
        return tokens

    def _record_logprobs(self, logits: Any, rows: list[_Sequence], tokens: Any, wanted: list[int]) -> None:
        import torch

        index = torch.tensor(wanted, device=logits.device)
        logprobs = torch.log_softmax(logits.index_select(0, index).float(), dim=-1)
        chosen = tokens.index_select(0, index)
        picked = logprobs.gather(-1, chosen[:, None]).squeeze(-1).tolist()
        k = max(rows[i].request.logprobs or 0 for i in wanted)
        top_values, top_ids = logprobs.topk(k, dim=-1) if k else (None, None)
        for position, row in enumerate(wanted):
            sequence = rows[row]
            count = sequence.request.logprobs or 0
            top: tuple[tuple[str, float], ...] = ()
            if count and top_ids is not None and top_values is not None:
                ids = top_ids[position, :count].tolist()
                values = top_values[position, :count].tolist()
                top = tuple((self._token_text(t), v) for t, v in zip(ids, values, strict=True))
            token = int(chosen[position])
            sequence.logprobs.append(TokenLogprob(self._token_text(token), _finite(picked[position]), top))

    def _token_text(self, token: int) -> str:
        return str(self.tokenizer.decode([token], skip_special_tokens=False))

    def _forward(self, input_ids: Any, mask: Any, positions: Any, cache: Any, rows: list[_Sequence]) -> Any:
        kwargs: dict[str, Any] = {}
        if self._uses_peft:
            kwargs["adapter_names"] = [s.request.adapter or BASE_ADAPTER for s in rows]
        output = self.model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{self._cache_kwarg: cache},
            **kwargs,
        )
        return output.logits[:, -1, :]

    def _join(self, admitted: list[_Sequence], cache: Any, mask: Any, tokens: Any) -> None:
        """Append freshly prefilled rows to the running batch, left-padding the shorter cache."""
        batch = self._batch
        if not batch.rows:
            self._batch = _Batch(list(admitted), cache, mask, tokens)
            return
        import torch

        width = max(batch.mask.shape[1], mask.shape[1])
        layers = [
            (
                torch.cat([_pad_left(k1, width), _pad_left(k2, width)]),
                torch.cat([_pad_left(v1, width), _pad_left(v2, width)]),
            )
            for (k1, v1), (k2, v2) in zip(_cache_tensors(batch.cache), _cache_tensors(cache), strict=True)
        ]
        batch.cache = _make_cache(layers)
        batch.mask = torch.cat([_pad_left(batch.mask, width, dim=1), _pad_left(mask, width, dim=1)])
        batch.next_tokens = torch.cat([batch.next_tokens, tokens])
        batch.rows += admitted

    def _accept(self, sequence: _Sequence, token: int) -> None:
        """Record one generated token; emit its text; finish the sequence when it should end."""
        if sequence.finished or sequence.cancelled:
            return
        sequence.generated.append(token)
        count = len(sequence.generated)
        if token in self.stop_token_ids:
            self._finish(sequence, "stop", self._rest(sequence))
            return
        text = sequence.stopper.push(sequence.decoder.push(token))
        grammar_done = False
        if sequence.matcher is not None:
            sequence.matcher.consume_token(token)
            grammar_done = sequence.matcher.is_stopped() or sequence.matcher.is_error()
        if sequence.stopper.stopped:
            self._finish(sequence, "stop", text)
        elif grammar_done:
            self._finish(sequence, "stop", text + self._rest(sequence))
        elif (
            count >= sequence.params.max_new_tokens
            or len(sequence.request.prompt_ids) + count >= self.context_length
        ):
            self._finish(sequence, "length", text + self._rest(sequence))
        elif text:
            sequence.emit(GenerationEvent(text, count, logprobs=_take(sequence.logprobs)))

    @staticmethod
    def _rest(sequence: _Sequence) -> str:
        """Text still held back when a sequence ends, unless it completes a stop string."""
        text = sequence.stopper.push(sequence.decoder.flush())
        return text if sequence.stopper.stopped else text + sequence.stopper.flush()

    def _finish(
        self, sequence: _Sequence, reason: FinishReason, text: str = "", error: str | None = None
    ) -> None:
        if sequence.finished:
            return
        sequence.finished = True
        if not sequence.cancelled:
            logprobs = _take(sequence.logprobs)
            sequence.emit(GenerationEvent(text, len(sequence.generated), reason, error, logprobs))

    def _drop_done_rows(self) -> None:
        """Remove finished and cancelled rows; cut cache columns that are padding in every row."""
        batch = self._batch
        keep = [i for i, s in enumerate(batch.rows) if not (s.finished or s.cancelled)]
        if len(keep) == len(batch.rows):
            return
        if not keep:
            self._batch = _Batch()
            return
        import torch

        index = torch.tensor(keep, device=self.device)
        mask = batch.mask.index_select(0, index)
        start = int(mask.any(dim=0).nonzero()[0])
        layers = [
            (k.index_select(0, index)[:, :, start:], v.index_select(0, index)[:, :, start:])
            for k, v in _cache_tensors(batch.cache)
        ]
        self._batch = _Batch(
            [batch.rows[i] for i in keep],
            _make_cache(layers),
            mask[:, start:],
            batch.next_tokens.index_select(0, index),
        )

    def _fail_all(self, message: str) -> None:
        for sequence in [*self._batch.rows, *self._pending]:
            self._finish(sequence, "error", error=message)
        self._batch = _Batch()
        self._pending.clear()


def _take(items: list[TokenLogprob]) -> tuple[TokenLogprob, ...]:
    taken = tuple(items)
    items.clear()
    return taken


def _finite(value: float) -> float:
    """JSON has no -inf: a token the grammar forbade (never sampled, but possibly in a top list)."""
    return value if value > -1e30 else -9999.0


def stop_token_ids(loaded: InferenceModel) -> frozenset[int]:
    """eos of the tokenizer and of the generation config, and the template's single-token stop words."""
    tokenizer = loaded.tokenizer
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    generation_eos = getattr(getattr(loaded.model, "generation_config", None), "eos_token_id", None)
    if isinstance(generation_eos, int):
        ids.add(generation_eos)
    elif isinstance(generation_eos, list):
        ids.update(int(i) for i in generation_eos)
    for word in loaded.template.stop_words:
        word_ids = tokenizer.encode(word, add_special_tokens=False)
        if len(word_ids) == 1:
            ids.add(int(word_ids[0]))
    return frozenset(ids)


def hidden_token_ids(loaded: InferenceModel) -> frozenset[int]:
    """Special tokens, which skip_special_tokens leaves out of the text, except the template's
    tool-call and thought words: tool calls must stay parseable (some tokenizers mark
    <tool_call> special) and reasoning visible."""
    tokenizer = loaded.tokenizer
    special = {int(i) for i, token in tokenizer.added_tokens_decoder.items() if token.special}
    special |= {int(i) for i in tokenizer.all_special_ids}
    words = (*loaded.template.tool_call_words, *loaded.template.thought_words)
    kept = {
        ids[0]
        for ids in (tokenizer.encode(w.strip(), add_special_tokens=False) for w in words if w.strip())
        if len(ids) == 1
    }
    return frozenset(special - kept)


def _cache_argument(model: Any) -> str:
    """transformers 5.24 renamed forward's past_key_values to cache; older 5.x know only the first."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _cache_tensors(cache: Any) -> list[tuple[Any, Any]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _make_cache(layers: list[tuple[Any, Any]]) -> Any:
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=layers)


def _pad_left(tensor: Any, width: int, dim: int = 2) -> Any:
    """Zero-pad `tensor` on the left of `dim` up to `width` (dim 2 of a [b, heads, time, d] cache)."""
    import torch.nn.functional as F

    missing = width - tensor.shape[dim]
    if missing == 0:
        return tensor
    padding = [0, 0] * (tensor.dim() - dim - 1) + [missing, 0]
    return F.pad(tensor, padding)
