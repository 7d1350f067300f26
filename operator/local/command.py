"""``kubefactory run -f FILE|DIR ...``: Datasets prepared, FineTuneJobs trained, ModelServers started.

Run by ``python -m kubefactory.operator.local`` (the runtime's ``kubefactory run`` hands over to it,
as ``kubefactory operator`` does). Datasets are prepared first, then FineTuneJobs trained in the
order given, then every ModelServer started; the servers run until interrupted. A model named
``hf://`` or ``s3://`` is fetched first by the init container a cluster pod would run (``kubefactory
fetch``, credentials from HF_TOKEN / AWS_* here), into the ``kubefactory-model-cache`` claim folder
shared by every run in the work folder: the same model is downloaded once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..api.dataset import Dataset
from ..api.finetunejob import FineTuneJob
from ..api.modelserver import ModelServer
from ..builders.layout import HEALTH_PATH
from ..settings import OperatorSettings
from .manifests import LocalRunError, Manifests, load
from .node import LOOPBACK, LocalNode, free_port
from .plan import (
    LocalAccelerators,
    dataset_pod,
    fit_serving,
    fit_training,
    model_fetch_pod,
    ready_dataset,
    serving_pods,
    succeeded_job,
    training_inputs,
    training_pod,
    upload_pod,
    with_model,
)

DESCRIPTION = (
    "Run Dataset, FineTuneJob and ModelServer manifests on this machine, without a cluster: the "
    "operator's own builders render each pod (the same runtime config and output layout), and each "
    "pod runs here as a process. Claims are folders under --workdir."
)
EPILOG = """examples:
  kubefactory run -f examples/quickstart/ --config-map identity-data=identity.json
  kubefactory run -f job.yaml --set FineTuneJob/my-job:spec.model=/models/tiny --scale-down
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubefactory run",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f", "--filename", action="append", required=True, help="a manifest file or a folder of them"
    )
    parser.add_argument("--workdir", default="kubefactory-run", help="where claims and pods live")
    parser.add_argument("-n", "--namespace", default="default", help="namespace of manifests that set none")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KIND/NAME:FIELD=VALUE",
        help="change a field before running, e.g. FineTuneJob/x:spec.model=/models/tiny (VALUE is YAML)",
    )
    parser.add_argument(
        "--config-map",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a ConfigMap from a file (key: its name), NAME=KEY=FILE, or a folder (as kubectl create configmap)",
    )
    parser.add_argument(
        "--scale-down",
        action="store_true",
        help="run what asks for several nodes or absent accelerators on one node with what is here",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="first port of the ModelServers (0: any free one)"
    )
    parser.add_argument("--no-serve", action="store_true", help="prepare and train, but start no ModelServer")
    parser.add_argument(
        "--ready-timeout", type=float, default=600, help="seconds a ModelServer may take to answer /health"
    )


def local_accelerators(manifests: Manifests) -> LocalAccelerators:
    """The devices here, detected only when a manifest asks for an accelerator (detection imports torch)."""
    wanted = [r for r in manifests.resources if getattr(getattr(r, "spec", None), "resources", None)]
    if all(r.spec.resources.accelerator == "cpu" for r in wanted):  # type: ignore[attr-defined]
        return LocalAccelerators()
    from kubefactory.runtime.launch.accelerators import detect_accelerator

    found = detect_accelerator()
    return LocalAccelerators(found.vendor, found.count)


def say(message: str) -> None:
    print(f"kubefactory run: {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    manifests = load(args.filename, args.overrides, args.config_map, args.namespace)
    node = LocalNode(Path(args.workdir), args.namespace, manifests.config_maps, manifests.secrets)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run_manifests(args, manifests, node)
    except KeyboardInterrupt:
        return 130
    finally:
        node.stop()


def run_manifests(args: argparse.Namespace, manifests: Manifests, node: LocalNode) -> int:
    settings = OperatorSettings.model_validate({})  # the defaults: no cluster to configure
    here = local_accelerators(manifests)
    preflight(manifests, here, args.scale_down, serve=not args.no_serve)
    datasets: dict[str, dict[str, Any] | None] = {}
    for dataset in manifests.of_kind("Dataset"):
        assert isinstance(dataset, Dataset)
        pod = dataset_pod(dataset, settings)
        say(f"{pod.owner}: preparing (pod {pod.name})")
        node.run(pod)
        body = ready_dataset(dataset)
        datasets[body["metadata"]["name"]] = body
        say(f"{pod.owner}: Ready at {body['status']['location']} {node.termination_message(pod).strip()}")
    jobs: dict[str, dict[str, Any] | None] = {}
    for job in manifests.of_kind("FineTuneJob"):
        assert isinstance(job, FineTuneJob)
        job = fetch_model(node, job, settings)
        inputs, notes = training_inputs(job, datasets, here, args.scale_down)
        pod = training_pod(inputs, settings, notes)
        for note in pod.notes:
            say(f"{pod.owner}: {note}")
        say(f"{pod.owner}: training (pod {pod.name})")
        node.run(pod)
        body = succeeded_job(job, inputs)
        jobs[body["metadata"]["name"]] = body
        claim, _, folder = inputs.output_location.removeprefix("pvc://").partition("/")
        say(f"{pod.owner}: Succeeded; output {inputs.output_location} = {node.claim_dir(claim) / folder}")
        if (upload := upload_pod(inputs, settings)) is not None:
            say(f"{upload.owner}: uploading the result (pod {upload.name})")
            node.run(upload)
            report = json.loads(node.termination_message(upload))
            say(
                f"{upload.owner}: result at {report['uri']} ({report['files']} files, {report['bytes']} bytes)"
            )
    servers = [] if args.no_serve else manifests.of_kind("ModelServer")
    running: list[subprocess.Popen[str]] = []
    for index, server in enumerate(servers):
        assert isinstance(server, ModelServer)
        if server.spec.model:
            server = fetch_model(node, server, settings)
        server = fetch_adapters(node, server, settings)
        pods = serving_pods(server, jobs, settings, here, args.scale_down)
        for pod in pods[:-1]:
            say(f"{pod.owner}: merging (pod {pod.name})")
            node.run(pod)
        pod = pods[-1]
        for note in pod.notes:
            say(f"{pod.owner}: {note}")
        port = args.port + index if args.port else free_port()
        process = node.start(pod, port)
        running.append(process)
        url = f"http://{LOOPBACK}:{port}"
        wait_ready(url, process, args.ready_timeout, pod.owner)
        say(f"{pod.owner}: Ready, serving at {url}/v1")
    if not running:
        return 0
    say("serving until interrupted (Ctrl-C)")
    while all(process.poll() is None for process in running):
        time.sleep(0.5)
    return 1  # a server stopped on its own


def preflight(manifests: Manifests, here: LocalAccelerators, scale_down: bool, serve: bool = True) -> None:
    """What only a cluster can run is refused before anything runs, every such problem at once."""
    problems = []
    for resource in manifests.resources:
        where = f"{type(resource).__name__}/{resource.metadata['name']}"
        try:
            if isinstance(resource, FineTuneJob):
                fit_training(resource.spec, here, scale_down)
            elif isinstance(resource, ModelServer) and serve:
                fit_serving(resource.spec, here, scale_down)
        except LocalRunError as err:
            problems.append(f"{where}: {err}")
    if problems:
        raise LocalRunError("\n".join(problems))


def fetch_uri(node: LocalNode, owner: str, uri: str, settings: OperatorSettings, what: str = "model") -> str:
    """An hf:// or s3:// URI fetched into the model cache claim, as a cluster pod's init container does;
    the local folder (or the URI itself when nothing is to fetch)."""
    pod = model_fetch_pod(owner, uri, settings, what)
    if pod is None:
        return uri
    say(f"{owner}: fetching {uri} (pod {pod.name})")
    node.run(pod)
    report = json.loads(node.termination_message(pod))
    how = "downloaded" if report["downloaded"] else "in the cache already"
    say(f"{owner}: {report['files']} files, {report['bytes']} bytes, {how}: {report['path']}")
    return str(report["path"])


def fetch_model(node: LocalNode, resource: FineTuneJob | ModelServer, settings: OperatorSettings) -> Any:
    owner = f"{type(resource).__name__}/{resource.metadata['name']}"
    path = fetch_uri(node, owner, str(resource.spec.model), settings)
    return resource if path == resource.spec.model else with_model(resource, path)


def fetch_adapters(node: LocalNode, server: ModelServer, settings: OperatorSettings) -> ModelServer:
    """Adapters named by hf:// or s3:// (a FineTuneJob's result in a bucket) fetched like models."""
    adapters = []
    for adapter in server.spec.adapters or []:
        if adapter.uri is not None:
            owner = f"ModelServer/{server.metadata['name']}"
            path = fetch_uri(node, owner, adapter.uri, settings, f"adapter-{adapter.name}")
            adapter = adapter.model_copy(update={"uri": path})
        adapters.append(adapter)
    if not adapters:
        return server
    return server.model_copy(update={"spec": server.spec.model_copy(update={"adapters": adapters})})


def wait_ready(url: str, process: subprocess.Popen[str], timeout: float, owner: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalRunError(f"{owner}: the server exited (code {process.returncode}) before it was ready")
        with contextlib.suppress(OSError), urllib.request.urlopen(url + HEALTH_PATH, timeout=2) as reply:
            if reply.status == 200:
                return
        time.sleep(0.5)
    raise LocalRunError(f"{owner}: not ready after {timeout:.0f}s")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except LocalRunError as err:
        print(f"kubefactory run: error: {err}", file=sys.stderr)
        return 1
