"""Training keys LLaMA-Factory adds to the Hugging Face ones."""

from __future__ import annotations

from typing import Any

from .base import ArgGroup, arg


class LfTrainingArguments(ArgGroup):
    overwrite_output_dir: bool = arg(
        False,
        "Start afresh in output_dir instead of resuming from its latest complete checkpoint, and train "
        "over a completed run of a different config there. A completed run of the same config stays complete.",
    )
    ray_num_workers: int = arg(1, "Ray: number of workers (accepted; KubeFactory launches with torchrun).")
    ray_init_kwargs: dict[str, Any] | str | None = arg(None, "Ray: init arguments (accepted, unused).")
    master_addr: str | None = arg(None, "Ray: master address (accepted, unused).")
    master_port: str | None = arg(None, "Ray: master port (accepted, unused).")
    enable_torch_profiler: bool = arg(False, "Profile training with the torch profiler.")
    profiler_output_dir: str | None = arg(None, "Folder for profiler traces; default output_dir/profiler.")
    profiler_wait_steps: int = arg(1, "Profiler: steps to skip before warm-up.")
    profiler_warmup_steps: int = arg(1, "Profiler: warm-up steps.")
    profiler_active_steps: int = arg(1, "Profiler: recorded steps.")
    profiler_repeat: int = arg(1, "Profiler: number of cycles.")
    profiler_record_shapes: bool = arg(True, "Profiler: record tensor shapes.")
    profiler_profile_memory: bool = arg(True, "Profiler: record memory use.")
    profiler_with_stack: bool = arg(True, "Profiler: record stacks.")
    profile_modules: str | None = arg(None, "Profiler: modules to profile, comma-separated.")
    fp8: bool = arg(False, "Train with FP8 mixed precision where the hardware supports it.")
    fp8_backend: str = arg("auto", "FP8 backend: auto, torchao, te or msamp.")
    fp8_enable_fsdp_float8_all_gather: bool = arg(False, "FP8 all-gather under FSDP.")
