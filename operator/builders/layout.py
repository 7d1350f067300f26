"""Where things are inside the pods the operator creates (one place, so builders agree)."""

from __future__ import annotations

from kubefactory.runtime.contract import names as contract

ROOT = "/kubefactory"
CONFIG_DIR = f"{ROOT}/config"  # the rendered runtime config (ConfigMap)
CONFIG_FILE = f"{CONFIG_DIR}/config.yaml"
DATASET_INFO_FILE = contract.DATASET_INFO_FILE
DEEPSPEED_FILE = "deepspeed.json"
OUTPUT_DIR = f"{ROOT}/output"  # results and checkpoints (PVC)
PROGRESS_FILE = f"{OUTPUT_DIR}/{contract.PROGRESS_FILE}"  # written by the runtime's trainer callback
DATASETS_DIR = f"{ROOT}/datasets"  # prepared Datasets, one read-only claim each
MODEL_DIR = f"{ROOT}/model"  # a pvc:// base model
SOURCE_DIR = f"{ROOT}/source"  # a Dataset's raw data, for the prepare Job
DATA_DIR = f"{ROOT}/data"  # a Dataset's claim, where the prepared data goes
PREPARED_FILE = contract.PREPARED_FILE
TERMINATION_LOG = "/dev/termination-log"
SHM_DIR = "/dev/shm"
TRAINER_CONTAINER = "trainer"
PREPARE_CONTAINER = "prepare"

# ModelServer pods
CLAIMS_DIR = f"{ROOT}/claims"  # every claim a server reads (models, adapters), read-only, one folder each
MERGED_DIR = f"{ROOT}/merged"  # the merge Job's claim, where merged models are written
SERVE_CONFIG_FILE = f"{CONFIG_DIR}/serve.yaml"  # the built-in engine's config
MERGE_CONFIG_FILE = f"{CONFIG_DIR}/merge.yaml"  # the merge Job's config
CACHE_DIR = f"{ROOT}/cache"  # hub downloads and compiled kernels (an emptyDir)
TMP_DIR = "/tmp"  # HOME of the servers: the root filesystem is read-only
SERVER_CONTAINER = "server"
MERGE_CONTAINER = "merge"
SERVER_PORT = 8000
HEALTH_PATH = "/health"  # vLLM, SGLang and `kubefactory api` all answer here once the model is loaded
