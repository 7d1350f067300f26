"""Relaunching `kubefactory train` under torchrun: when, and with which command line.

Both decisions are pure functions of the environment (and the device count), so every spelling
a cluster may use — LLaMA-Factory's `NNODES`/`NODE_RANK`/... and Kubeflow's `PET_*` — is tested
with a table, without torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import UserError

# Our spelling first, then the one torchrun itself (and the Kubeflow training operator) reads.
_SPELLINGS: dict[str, tuple[str, ...]] = {
    "nnodes": ("NNODES", "PET_NNODES"),
    "node_rank": ("NODE_RANK", "PET_NODE_RANK"),
    "nproc_per_node": ("NPROC_PER_NODE", "PET_NPROC_PER_NODE"),
    "master_addr": ("MASTER_ADDR", "PET_MASTER_ADDR"),
    "master_port": ("MASTER_PORT", "PET_MASTER_PORT"),
    "rdzv_id": ("RDZV_ID", "PET_RDZV_ID"),
    "min_nnodes": ("MIN_NNODES",),
    "max_nnodes": ("MAX_NNODES",),
    "max_restarts": ("MAX_RESTARTS", "PET_MAX_RESTARTS"),
}
# Set by torchrun in every worker: their presence means "already launched".
_WORKER_MARKERS = ("TORCHELASTIC_RUN_ID", "LOCAL_RANK")
DEFAULT_MASTER_ADDR = "127.0.0.1"
DEFAULT_MASTER_PORT = 29500


def _read(env: Mapping[str, str], key: str) -> str | None:
    for name in _SPELLINGS[key]:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    value = _read(env, key)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        names = " or ".join(_SPELLINGS[key])
        raise UserError(f"{names}: expected a whole number, got {value!r}") from None


def _enabled(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "y", "on")


@dataclass(frozen=True)
class LaunchEnv:
    """The launch settings of this node, read from the environment."""

    nnodes: int = 1
    node_rank: int = 0
    nproc_per_node: int | None = None  # None: one process per visible device
    master_addr: str = DEFAULT_MASTER_ADDR
    master_port: int = DEFAULT_MASTER_PORT
    rdzv_id: str | None = None
    min_nnodes: int | None = None
    max_nnodes: int | None = None
    max_restarts: int = 0
    force: bool = False
    inside_worker: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LaunchEnv:
        nproc = _read(env, "nproc_per_node")
        launch = cls(
            nnodes=_int(env, "nnodes", 1),
            node_rank=_int(env, "node_rank", 0),
            nproc_per_node=_int(env, "nproc_per_node", 0) if nproc not in (None, "auto", "gpu") else None,
            master_addr=_read(env, "master_addr") or DEFAULT_MASTER_ADDR,
            master_port=_int(env, "master_port", DEFAULT_MASTER_PORT),
            rdzv_id=_read(env, "rdzv_id"),
            min_nnodes=_int(env, "min_nnodes", 0) or None,
            max_nnodes=_int(env, "max_nnodes", 0) or None,
            max_restarts=_int(env, "max_restarts", 0),
            force=_enabled(env.get("FORCE_TORCHRUN")),
            inside_worker=any(marker in env for marker in _WORKER_MARKERS),
        )
        launch.check()
        return launch

    def check(self) -> None:
        if self.nnodes < 1:
            raise UserError(f"NNODES: must be at least 1, got {self.nnodes}")
        if not 0 <= self.node_rank < self.nnodes:
            raise UserError(
                f"NODE_RANK: must be between 0 and NNODES-1 ({self.nnodes - 1}), got {self.node_rank}"
            )
        if self.nproc_per_node is not None and self.nproc_per_node < 1:
            raise UserError(f"NPROC_PER_NODE: must be at least 1, got {self.nproc_per_node}")
        if (self.min_nnodes is None) != (self.max_nnodes is None):
            raise UserError("MIN_NNODES and MAX_NNODES: set both for an elastic node count, or neither")
        if self.min_nnodes is not None and self.max_nnodes is not None and self.min_nnodes > self.max_nnodes:
            raise UserError(f"MIN_NNODES: {self.min_nnodes} is above MAX_NNODES ({self.max_nnodes})")


def should_relaunch(launch: LaunchEnv, device_count: int, needs_distributed: bool = False) -> bool:
    """torchrun when asked (FORCE_TORCHRUN), across nodes, with several devices, or for DeepSpeed;
    never from inside a worker torchrun started."""
    if launch.inside_worker:
        return False
    return launch.force or launch.nnodes > 1 or device_count > 1 or needs_distributed


def torchrun_command(launch: LaunchEnv, device_count: int, python: str, program: Sequence[str]) -> list[str]:
    """The torchrun command line that runs `python -m <program...>` on this node.

    Without RDZV_ID: a static job (node rank and master given). With RDZV_ID: an elastic job with
    the c10d rendezvous at MASTER_ADDR:MASTER_PORT, MIN_NNODES:MAX_NNODES nodes when both are set,
    and MAX_RESTARTS restarts of the worker group.
    """
    nproc = launch.nproc_per_node or max(1, device_count)
    command = [python, "-m", "torch.distributed.run"]
    if launch.rdzv_id is not None:
        nnodes = f"{launch.min_nnodes}:{launch.max_nnodes}" if launch.max_nnodes else str(launch.nnodes)
        command += [
            "--nnodes", nnodes,
            "--nproc-per-node", str(nproc),
            "--rdzv-id", launch.rdzv_id,
            "--rdzv-backend", "c10d",
            "--rdzv-endpoint", f"{launch.master_addr}:{launch.master_port}",
            "--max-restarts", str(launch.max_restarts),
        ]  # fmt: skip
    else:
        command += [
            "--nnodes", str(launch.nnodes),
            "--node-rank", str(launch.node_rank),
            "--nproc-per-node", str(nproc),
            "--master-addr", launch.master_addr,
            "--master-port", str(launch.master_port),
        ]  # fmt: skip
        if launch.max_restarts:
            command += ["--max-restarts", str(launch.max_restarts)]
    return [*command, "-m", *program]


@dataclass(frozen=True)
class RankInfo:
    """Where this process sits in a torchrun job (rank 0 of 1 outside one)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RankInfo:
        def number(name: str, default: int) -> int:
            try:
                return int(env.get(name, default))
            except ValueError:
                return default

        return cls(
            rank=number("RANK", 0),
            local_rank=number("LOCAL_RANK", 0),
            world_size=number("WORLD_SIZE", 1),
            local_world_size=number("LOCAL_WORLD_SIZE", 1),
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_local_main(self) -> bool:
        return self.local_rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1
