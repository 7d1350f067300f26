"""File names, keys, variables and limits both sides of the pod boundary must agree on."""

from __future__ import annotations

# Training progress: the trainer's callback writes PROGRESS_FILE in output_dir; node rank 0's
# `kubefactory report-progress` copies it into the PROGRESS_KEY key of the job's progress
# ConfigMap, named by PROGRESS_CONFIGMAP_ENV; the operator reads that key.
PROGRESS_FILE = "progress.json"
PROGRESS_KEY = "progress.json"
PROGRESS_CONFIGMAP_ENV = "KUBEFACTORY_PROGRESS_CONFIGMAP"
# the torch.distributed backend the operator chose from the accelerator table
DISTRIBUTED_BACKEND_ENV = "KUBEFACTORY_DISTRIBUTED_BACKEND"

# Dataset preparation: `kubefactory dataset prepare` writes PREPARED_FILE (the kept rows),
# DATASET_INFO_FILE (how to read them) and REPORT_FILE into the Dataset's claim; training pods
# read PREPARED_FILE through the dataset_info entries the operator renders.
PREPARED_FILE = "data.jsonl"
DATASET_INFO_FILE = "dataset_info.json"
REPORT_FILE = "report.json"

# Bytes Kubernetes keeps of a container's termination message: the prepare report and the last
# progress record reach the operator through it, so they are written to fit.
TERMINATION_LIMIT = 4096

# Serving: on SIGTERM the built-in server lets requests in flight finish for at most
# SERVER_DRAIN_SECONDS; the operator gives the pod that long plus a margin before the kubelet's
# SIGKILL, so a rollout or scale-down never cuts an answer the server meant to finish.
SERVER_DRAIN_SECONDS = 30
SERVER_DRAIN_MARGIN_SECONDS = 15
