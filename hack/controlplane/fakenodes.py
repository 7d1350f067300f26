"""Fake accelerator nodes managed by kwok, and the kwok Stage configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_TAINT_KEY = "kwok.x-k8s.io/node"
ACCELERATOR_LABEL = "kubefactory.io/accelerator"
STAGES_DIR = Path(__file__).resolve().parent / "stages"

# kwok's own default stages that we keep (relative to the cached copy of kustomize/stage).
# pod-complete is left out on purpose: it would finish every Job pod at once.
KWOK_DEFAULT_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat/node-heartbeat.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-delete.yaml",
)


@dataclass(frozen=True)
class NodePool:
    """``count`` identical fake nodes."""

    name: str
    count: int
    vendor: str  # value of the kubefactory.io/accelerator label
    cpu: str
    memory: str
    arch: str = "amd64"
    instance_type: str = ""
    accelerators: dict[str, str] = field(default_factory=dict)  # extended resource -> count
    labels: dict[str, str] = field(default_factory=dict)


NODE_POOLS = (
    NodePool(
        "nvidia", 4, "nvidia", cpu="224", memory="2063731Mi", instance_type="dgx-h100",
        accelerators={"nvidia.com/gpu": "8"},
        labels={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "8"},
    ),
    NodePool(
        "amd", 2, "amd", cpu="192", memory="2063731Mi", instance_type="mi300x-8",
        accelerators={"amd.com/gpu": "8"}, labels={"amd.com/gpu.product-name": "AMD-Instinct-MI300X"},
    ),
    NodePool(
        "ascend", 2, "ascend", cpu="192", memory="1547798Mi", arch="arm64", instance_type="atlas-800t-a2",
        accelerators={"huawei.com/Ascend910": "8"}, labels={"accelerator": "huawei-Ascend910"},
    ),
    NodePool("cpu", 2, "cpu", cpu="64", memory="257566Mi", instance_type="cpu-64"),
)  # fmt: skip


def node_info(arch: str) -> dict[str, str]:
    """All of NodeSystemInfo's required fields; kwok fills the empty ones with its version."""
    empty = ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion")
    info = dict.fromkeys((*empty, "kubeletVersion", "kubeProxyVersion"), "")
    return {**info, "architecture": arch, "operatingSystem": "linux"}


def node_manifest(pool: NodePool, index: int) -> dict[str, object]:
    name = f"kwok-{pool.name}-{index}"
    capacity = {
        "cpu": pool.cpu,
        "memory": pool.memory,
        "pods": "110",
        "ephemeral-storage": "3500Gi",
        **pool.accelerators,
    }
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": pool.arch,
        "node.kubernetes.io/instance-type": pool.instance_type,
        "type": "kwok",
        ACCELERATOR_LABEL: pool.vendor,
        "kubefactory.io/node-pool": pool.name,
        **pool.labels,
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "annotations": {KWOK_ANNOTATION: "fake"}, "labels": labels},
        "spec": {"taints": [{"key": KWOK_TAINT_KEY, "value": "fake", "effect": "NoSchedule"}]},
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "nodeInfo": node_info(pool.arch),
        },
    }


def node_manifests(pools: tuple[NodePool, ...] = NODE_POOLS) -> list[dict[str, object]]:
    return [node_manifest(pool, index) for pool in pools for index in range(pool.count)]


def node_list(pools: tuple[NodePool, ...] = NODE_POOLS) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "List", "items": node_manifests(pools)}


def stage_files(kwok_stages: Path) -> list[Path]:
    """kwok's kept default stages followed by KubeFactory's own pod stages."""
    files = [kwok_stages / relative for relative in KWOK_DEFAULT_STAGES]
    files += sorted(STAGES_DIR.glob("*.yaml"))
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"kwok stage files missing (run `cluster.py build`): {missing}")
    return files


def write_stage_config(kwok_stages: Path, destination: Path) -> Path:
    """Concatenate every Stage into one multi-document YAML for ``kwok --config``."""
    documents = [path.read_text().strip() + "\n" for path in stage_files(kwok_stages)]
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text("---\n".join(documents))
    return destination
