"""When `kubefactory train` relaunches itself under torchrun, and the exact command it runs."""

from __future__ import annotations

import pytest
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.launch.torchrun import LaunchEnv, RankInfo, should_relaunch, torchrun_command

PY = "/venv/bin/python"
PROGRAM = ["kubefactory.runtime.cli", "train", "cfg.yaml", "learning_rate=1e-4"]
RUN = [PY, "-m", "torch.distributed.run"]
TAIL = ["-m", *PROGRAM]


@pytest.mark.parametrize(
    ("env", "devices", "deepspeed", "expected"),
    [
        ({}, 0, False, False),  # one CPU process
        ({}, 1, False, False),  # one GPU
        ({}, 2, False, True),  # several devices visible
        ({"FORCE_TORCHRUN": "1"}, 0, False, True),
        ({"FORCE_TORCHRUN": "true"}, 1, False, True),
        ({"FORCE_TORCHRUN": "0"}, 1, False, False),
        ({"NNODES": "2"}, 1, False, True),
        ({"PET_NNODES": "4"}, 0, False, True),  # Kubeflow's spelling
        ({}, 1, True, True),  # DeepSpeed needs a distributed launch
        ({"LOCAL_RANK": "0", "FORCE_TORCHRUN": "1"}, 8, False, False),  # already a torchrun worker
        ({"TORCHELASTIC_RUN_ID": "x", "NNODES": "2"}, 8, True, False),
    ],
)
def test_when_to_relaunch(env: dict[str, str], devices: int, deepspeed: bool, expected: bool) -> None:
    assert should_relaunch(LaunchEnv.from_env(env), devices, deepspeed) is expected


@pytest.mark.parametrize(
    ("env", "devices", "expected"),
    [
        (
            {},
            4,
            [*RUN, "--nnodes", "1", "--node-rank", "0", "--nproc-per-node", "4",
             "--master-addr", "127.0.0.1", "--master-port", "29500", *TAIL],
        ),
        (
            {"NNODES": "2", "NODE_RANK": "1", "NPROC_PER_NODE": "8", "MASTER_ADDR": "job-0.svc", "MASTER_PORT": "23456"},
            8,
            [*RUN, "--nnodes", "2", "--node-rank", "1", "--nproc-per-node", "8",
             "--master-addr", "job-0.svc", "--master-port", "23456", *TAIL],
        ),
        (  # the PET_* spellings, as the Kubeflow training operator sets them
            {"PET_NNODES": "3", "PET_NODE_RANK": "2", "PET_NPROC_PER_NODE": "2", "PET_MASTER_ADDR": "h", "PET_MASTER_PORT": "1"},
            0,
            [*RUN, "--nnodes", "3", "--node-rank", "2", "--nproc-per-node", "2",
             "--master-addr", "h", "--master-port", "1", *TAIL],
        ),
        (  # ours wins over PET_* when both are set
            {"NNODES": "2", "PET_NNODES": "9", "NODE_RANK": "0", "PET_NPROC_PER_NODE": "auto"},
            2,
            [*RUN, "--nnodes", "2", "--node-rank", "0", "--nproc-per-node", "2",
             "--master-addr", "127.0.0.1", "--master-port", "29500", *TAIL],
        ),
        (  # CPU: one process unless NPROC_PER_NODE says more
            {"FORCE_TORCHRUN": "1"},
            0,
            [*RUN, "--nnodes", "1", "--node-rank", "0", "--nproc-per-node", "1",
             "--master-addr", "127.0.0.1", "--master-port", "29500", *TAIL],
        ),
        (
            {"NNODES": "2", "MAX_RESTARTS": "3"},
            1,
            [*RUN, "--nnodes", "2", "--node-rank", "0", "--nproc-per-node", "1",
             "--master-addr", "127.0.0.1", "--master-port", "29500", "--max-restarts", "3", *TAIL],
        ),
        (  # elastic: c10d rendezvous at the master, a node range, restarts
            {"RDZV_ID": "job-7", "NNODES": "4", "MIN_NNODES": "2", "MAX_NNODES": "4", "MAX_RESTARTS": "5",
             "MASTER_ADDR": "m", "MASTER_PORT": "29400", "NPROC_PER_NODE": "8"},
            8,
            [*RUN, "--nnodes", "2:4", "--nproc-per-node", "8", "--rdzv-id", "job-7", "--rdzv-backend", "c10d",
             "--rdzv-endpoint", "m:29400", "--max-restarts", "5", *TAIL],
        ),
        (  # elastic without a node range: the fixed count
            {"RDZV_ID": "r", "NNODES": "3"},
            2,
            [*RUN, "--nnodes", "3", "--nproc-per-node", "2", "--rdzv-id", "r", "--rdzv-backend", "c10d",
             "--rdzv-endpoint", "127.0.0.1:29500", "--max-restarts", "0", *TAIL],
        ),
    ],
)  # fmt: skip
def test_torchrun_command(env: dict[str, str], devices: int, expected: list[str]) -> None:
    assert torchrun_command(LaunchEnv.from_env(env), devices, PY, PROGRAM) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NNODES": "two"}, "NNODES or PET_NNODES: expected a whole number, got 'two'"),
        ({"NNODES": "2", "NODE_RANK": "2"}, "NODE_RANK: must be between 0 and NNODES-1 (1), got 2"),
        ({"NNODES": "0"}, "NNODES: must be at least 1"),
        ({"NPROC_PER_NODE": "0"}, "NPROC_PER_NODE: must be at least 1"),
        ({"MIN_NNODES": "2"}, "MIN_NNODES and MAX_NNODES: set both"),
        ({"MIN_NNODES": "4", "MAX_NNODES": "2"}, "MIN_NNODES: 4 is above MAX_NNODES (2)"),
        ({"MASTER_PORT": "http"}, "MASTER_PORT or PET_MASTER_PORT: expected a whole number"),
    ],
)
def test_bad_launch_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LaunchEnv.from_env(env)


def test_rank_info_outside_and_inside_torchrun() -> None:
    assert RankInfo.from_env({}) == RankInfo(0, 0, 1, 1)
    worker = RankInfo.from_env({"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4"})
    assert (worker.rank, worker.local_rank, worker.distributed, worker.is_main, worker.is_local_main) == (
        5,
        1,
        True,
        False,
        False,
    )
