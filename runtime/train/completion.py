"""The completion record: a run that reached its end says so, and is never trained again.

When a run's recipe has returned (trained to its end, saved, evaluated, predicted), every rank
meets at a barrier and then rank 0 writes ``RECORD_FILE`` into output_dir, atomically and last: the
step the run ended at, the fingerprint of its config and the sha256 digest of each result file. A
run killed at any earlier point leaves no record and is resumed from its latest complete checkpoint
(``EndGuard`` stops a resume that is already at the end).

Before torch is even imported, a run over an output_dir holding a record either stops at once (same
config: "run already complete ...", exit 0, nothing written) or fails naming the keys that differ,
unless overwrite_output_dir is true (then it trains afresh over the old result). The same config
stays complete even with overwrite_output_dir: true — training again would only reproduce the result,
and LLaMA-Factory's example YAMLs (and the operator, for ``checkpointing.resume: false``) set that key
in configs that are simply rerun. The result files are checked by size at the start (hashing a large
model at every start would cost minutes); ``verify_digests`` is the full check.

The fingerprint covers every config key except ``RESULT_NEUTRAL_KEYS`` (and the prefixes in
``RESULT_NEUTRAL_PREFIXES``): keys that only say where files go and how often checkpoints are
written, how progress is logged or reported, how processes, data loading and tokenizing are
arranged, or where a resume starts — changing them never changes the trained weights, so a
restarted pod whose config differs only there (the operator's ``resume_from_checkpoint``, a new
``logging_steps``) finds its run complete. Every other key counts, including keys added later:
an unknown key errs on the side of "a different run".
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import to_jsonable_python

from ..launch.torchrun import RankInfo
from .artifacts import PROGRESS_FILE, RUN_COMPLETE, TRAINER_LOG
from .run_setup import OutputDirError, output_dir_of

if TYPE_CHECKING:
    from ..config import TrainConfig

log = logging.getLogger(__name__)

RECORD_FILE = RUN_COMPLETE
TRAINER_STATE = "trainer_state.json"
# Files of output_dir that are not the result: the live logs (appended to while training) and the record.
NOT_RESULTS = frozenset({RECORD_FILE, PROGRESS_FILE, TRAINER_LOG})

RESULT_NEUTRAL_KEYS = frozenset(
    {
        # where the run writes, whether it resumes, and how often it checkpoints on the way
        "output_dir",
        "overwrite_output_dir",
        "resume_from_checkpoint",
        "save_strategy",
        "save_steps",
        "save_total_limit",
        "save_on_each_node",
        "save_only_model",
        "enable_jit_checkpoint",
        "push_to_hub",
        # logging, reporting and profiling
        "log_on_each_node",
        "log_level",
        "log_level_replica",
        "disable_tqdm",
        "report_to",
        "run_name",
        "project",
        "plot_loss",
        "include_num_input_tokens_seen",
        "include_effective_tokens_per_second",
        "skip_memory_metrics",
        "print_param_status",
        "use_swanlab",
        "enable_torch_profiler",
        "profile_modules",
        # how processes, data loading and tokenizing are arranged (not what they compute)
        "local_rank",
        "ddp_timeout",
        "master_addr",
        "master_port",
        "ray_num_workers",
        "ray_init_kwargs",
        "dataloader_num_workers",
        "dataloader_pin_memory",
        "dataloader_persistent_workers",
        "dataloader_prefetch_factor",
        "dataloader_multiprocessing_context",
        "preprocessing_num_workers",
        "preprocessing_batch_size",
        "overwrite_cache",
        "data_shared_file_system",
        "cache_dir",
        # credentials (never written into the record)
        "hf_hub_token",
        "ms_hub_token",
        "om_hub_token",
    }
)
RESULT_NEUTRAL_PREFIXES = ("logging_", "profiler_", "trackio_", "swanlab_", "hub_")


class _Record(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Artifact(_Record):
    sha256: str
    size: int


class CompletionRecord(_Record):
    """What ``RECORD_FILE`` holds."""

    step: int
    fingerprint: str
    config: dict[str, Any]  # the fingerprinted keys, so that a different config can be named key by key
    artifacts: dict[str, Artifact]  # result file name → digest
    world_size: int = 1
    completed_at: str = ""


# --- the config's fingerprint ----------------------------------------------------------------------


def counts(key: str) -> bool:
    """Whether a config key can change the result (and so belongs to the fingerprint)."""
    return key not in RESULT_NEUTRAL_KEYS and not key.startswith(RESULT_NEUTRAL_PREFIXES)


def fingerprint_values(config: TrainConfig) -> dict[str, Any]:
    values = config.model_dump(mode="json")
    return {key: value for key, value in sorted(values.items()) if counts(key)}


def fingerprint(values: dict[str, Any]) -> str:
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _default(key: str) -> Any:
    from ..config import TrainConfig

    field = TrainConfig.model_fields.get(key)
    if field is None or field.is_required():
        return None
    return to_jsonable_python(field.get_default(call_default_factory=True))


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key (was → now)`` for each key whose value differs; a key one side lacks (a record from an
    older version, a key that stopped counting) compares as its default."""
    changed = []
    for key in sorted(set(recorded) | set(current)):
        if not counts(key):
            continue
        before, after = recorded.get(key, _default(key)), current.get(key, _default(key))
        if before != after:
            changed.append(f"{key} ({before!r} in the completed run, {after!r} now)")
    return changed


# --- the result's files ----------------------------------------------------------------------------


def result_files(output_dir: str | Path) -> list[Path]:
    """The top-level files of output_dir that are the run's result (model or adapter, tokenizer,
    metrics, trainer state, plots); checkpoints, hidden temporary files and live logs are not."""
    folder = Path(output_dir)
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.name not in NOT_RESULTS
    )


def digest(path: Path, sync: bool = False) -> Artifact:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
        if sync:
            os.fsync(handle.fileno())
    return Artifact(sha256=hasher.hexdigest(), size=path.stat().st_size)


def changed_artifacts(record: CompletionRecord, output_dir: str | Path) -> list[str]:
    """Result files that are gone or whose size changed since the record (sizes only: hashing a
    large model at every start would cost minutes; the digests are there for a full check)."""
    folder = Path(output_dir)
    changed = []
    for name, artifact in sorted(record.artifacts.items()):
        path = folder / name
        if not path.is_file():
            changed.append(f"{name} is missing")
        elif path.stat().st_size != artifact.size:
            changed.append(f"{name} has changed")
    return changed


def verify_digests(record: CompletionRecord, output_dir: str | Path) -> list[str]:
    """Result files whose bytes no longer match the record (the full, slow check)."""
    folder = Path(output_dir)
    return [
        name
        for name, artifact in sorted(record.artifacts.items())
        if not (folder / name).is_file() or digest(folder / name) != artifact
    ]


# --- reading and writing the record ----------------------------------------------------------------


def read_record(output_dir: str | Path) -> CompletionRecord | None:
    path = Path(output_dir) / RECORD_FILE
    if not path.is_file():
        return None
    try:
        return CompletionRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValueError, ValidationError) as err:
        raise OutputDirError(
            f"output_dir: {path} is not a readable completion record ({str(err).splitlines()[0]}); "
            "set overwrite_output_dir: true to train again there, or choose another output_dir"
        ) from None


def write_record(output_dir: str | Path, record: CompletionRecord) -> None:
    """Temporary file, fsync, rename, fsync of the folder: the record appears whole or not at all."""
    folder = Path(output_dir)
    tmp = folder / f".{RECORD_FILE}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(record.model_dump_json(by_alias=True, indent=2))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, folder / RECORD_FILE)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- at the start and at the end of a run ----------------------------------------------------------


def completed_run(config: TrainConfig) -> CompletionRecord | None:
    """The record of this very run when output_dir holds it (nothing is left to do), else None.

    A record of a different config, or whose result files are gone or changed, is an error unless
    overwrite_output_dir is true (then the run trains afresh there)."""
    output_dir = output_dir_of(config)
    if not config.do_train:
        return None
    record = read_record(output_dir)
    if record is None:
        return None
    current = fingerprint_values(config)
    changed = [] if fingerprint(current) == record.fingerprint else differences(record.config, current)
    if changed:
        if config.overwrite_output_dir:
            log.info("overwrite_output_dir: training again over the completed run in %s", output_dir)
            return None
        raise OutputDirError(
            f"output_dir: {output_dir} holds a completed run (step {record.step}) of a different config: "
            f"{'; '.join(changed)}. Set overwrite_output_dir: true to train again there with this config, "
            "or choose another output_dir (resume_from_checkpoint can start it from one of this run's checkpoints)"
        )
    damaged = changed_artifacts(record, output_dir)
    if damaged:
        if config.overwrite_output_dir:
            log.info("overwrite_output_dir: training again, the completed result in %s changed", output_dir)
            return None
        raise OutputDirError(
            f"output_dir: the result of the completed run in {output_dir} changed after it completed "
            f"({'; '.join(damaged)}). Set overwrite_output_dir: true to train it again"
        )
    return record


def complete_message(record: CompletionRecord, output_dir: str) -> str:
    return f"run already complete at step {record.step}; result in {output_dir} (nothing to train)"


def record_completion(config: TrainConfig) -> None:
    """The last act of a training run: once every rank is done, the saving process records it."""
    if not config.do_train:
        return
    from .callbacks import barrier

    barrier()  # every rank has finished writing its part of the result
    rank = RankInfo.from_env(os.environ)
    if not rank.is_main:  # the process that wrote trainer_state.json
        return
    output_dir = output_dir_of(config)
    state = json.loads((Path(output_dir) / TRAINER_STATE).read_text(encoding="utf-8"))
    values = fingerprint_values(config)
    record = CompletionRecord(
        step=int(state["global_step"]),
        fingerprint=fingerprint(values),
        config=values,
        artifacts={path.name: digest(path, sync=True) for path in result_files(output_dir)},
        world_size=rank.world_size,
        completed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    write_record(output_dir, record)
    log.info("run complete at step %d; result in %s (%s)", record.step, output_dir, RECORD_FILE)
