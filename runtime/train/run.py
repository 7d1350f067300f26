"""Run a training config: here, or relaunched under torchrun when the job is distributed.

`kubefactory train` on a machine with several accelerators, with FORCE_TORCHRUN=1, with NNODES > 1
or with a DeepSpeed config replaces itself with `python -m torch.distributed.run ... -m
kubefactory.runtime.cli train <same arguments>`; every worker then runs the stage's recipe.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..launch.torchrun import LaunchEnv, RankInfo, should_relaunch, torchrun_command
from . import completion
from .run_setup import output_dir_of

if TYPE_CHECKING:
    from ..config import TrainConfig

log = logging.getLogger(__name__)

CLI_MODULE = "kubefactory.runtime.cli"


def run_training(config: TrainConfig, config_path: str | None = None, overrides: Sequence[str] = ()) -> None:
    rank = RankInfo.from_env(os.environ)
    logging.basicConfig(
        level=logging.INFO if rank.is_main else logging.WARNING,
        format=f"[%(levelname)s|%(name)s{f'|rank{rank.rank}' if rank.distributed else ''}] %(message)s",
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if (record := completion.completed_run(config)) is not None:  # decided before torch is imported
        if rank.is_main:  # under torchrun every worker finds it; one says so
            print(completion.complete_message(record, output_dir_of(config)), flush=True)
        return
    from ..launch.deepspeed import resolve_deepspeed, zero_stage
    from ..model.loader import check_model_settings
    from .rules import check_stage_config
    from .stages import recipe_for

    check_stage_config(config, zero_stage(resolve_deepspeed(config.deepspeed)))
    check_model_settings(config)
    recipe = recipe_for(config.stage)
    launch = LaunchEnv.from_env(os.environ)
    if not launch.inside_worker:
        from ..launch.accelerators import detect_accelerator

        devices = detect_accelerator().count
        if should_relaunch(launch, devices, needs_distributed=bool(config.deepspeed)):
            relaunch(launch, devices, config, config_path, overrides)
    recipe(config)
    completion.record_completion(config)  # last: a run killed before this line is resumed, not skipped


def relaunch(
    launch: LaunchEnv, devices: int, config: TrainConfig, config_path: str | None, overrides: Sequence[str]
) -> None:
    """Replace this process with torchrun (signals then reach torchrun, which stops its workers)."""
    if config_path is None:
        config_path = _written_config(config)
        overrides = ()
    command = torchrun_command(
        launch, devices, sys.executable, [CLI_MODULE, "train", config_path, *overrides]
    )
    log.info(
        "launching %d process(es) per node under torchrun: %s",
        launch.nproc_per_node or max(1, devices),
        " ".join(command),
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)


def _written_config(config: TrainConfig) -> str:
    """A config built in memory (no file) is written out for the workers to read."""
    import yaml

    values = config.model_dump(exclude_unset=True)
    with tempfile.NamedTemporaryFile(
        "w", suffix=".yaml", prefix="kubefactory-train-", delete=False
    ) as handle:
        yaml.safe_dump(values, handle)
    return handle.name
