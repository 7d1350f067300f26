"""Find (or build) the throwaway virtualenv holding LLaMA-Factory 0.9.5, the baseline benchmarks
compare against. It lives outside the repository and is shared by every benchmark:

    python -m bench.lf_env          # prints its python, building it first when missing

LLaMA-Factory 0.9.5 needs transformers<=5.6, so it cannot share our venv. Torch is not
downloaded again: the venv borrows this venv's torch through a .pth file. torchaudio, which
LLaMA-Factory imports at import time but text processing never uses, is a stub when absent.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

LF_VERSION = "0.9.5"
# Pins inside LLaMA-Factory 0.9.5's ranges; everything torch-related is borrowed.
LF_REQUIREMENTS = (
    f"llamafactory=={LF_VERSION}", "transformers==5.6.0", "datasets==4.0.0", "accelerate==1.11.0",
    "peft==0.18.1", "trl==0.24.0", "tokenizers", "omegaconf", "pyyaml", "numpy", "pandas", "pillow", "av",
    "sentencepiece", "tiktoken", "protobuf", "fire", "tyro<0.9.0", "einops", "scipy", "matplotlib",
    "fsspec", "jinja2", "packaging", "pydantic", "safetensors", "torchdata==0.11.0", "sympy", "networkx",
)  # fmt: skip
BORROWED = ("torch", "torchgen", "functorch", "triton", "nvidia", "cuda")
TORCHAUDIO_STUB = "# stub: LLaMA-Factory imports torchaudio at import time; text processing never calls it\n"


def cache_dir() -> Path:
    return Path(os.environ.get("KUBEFACTORY_CACHE") or Path.home() / ".cache" / "kubefactory")


def venv_dir() -> Path:
    return cache_dir() / "lf-venv"


def lf_python() -> Path:
    """The venv's interpreter (KUBEFACTORY_LF_PYTHON overrides), whether or not it exists yet."""
    override = os.environ.get("KUBEFACTORY_LF_PYTHON")
    return Path(override) if override else venv_dir() / "bin" / "python"


def lf_env() -> dict[str, str]:
    """Environment for running the LLaMA-Factory python: quiet, offline, one thread per library."""
    env = dict(os.environ)
    env.update(
        DISABLE_VERSION_CHECK="1",  # LLaMA-Factory checks its dependency versions at import
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_VERBOSITY="error",
        PYTHONWARNINGS="ignore",
    )
    stub = cache_dir() / "lf-stubs"
    if stub.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(stub)) if p)
    return env


def works(python: Path) -> bool:
    if not python.exists():
        return False
    probe = [str(python), "-c", "import llamafactory.data.template, llamafactory.data.loader"]
    return (
        subprocess.run(probe, env=lf_env(), capture_output=True, timeout=600, cwd=_outside()).returncode == 0
    )


def _outside() -> Path:
    """A working directory outside the repository: `python -c` puts it on sys.path, and the
    repository's operator/ folder would shadow the standard library's operator module."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    return cache_dir()


def _borrow_torch(site: Path) -> None:
    """A folder of links to this venv's torch packages, appended to the new venv's sys.path."""
    ours = Path(sysconfig.get_paths()["purelib"])
    share = cache_dir() / "lf-torch-share"
    share.mkdir(parents=True, exist_ok=True)
    for entry in ours.iterdir():
        name = entry.name.split("-")[0].lower()
        if any(name == b or name.startswith(f"{b}_") for b in BORROWED) and not (share / entry.name).exists():
            (share / entry.name).symlink_to(entry)
    (site / "zz-kubefactory-torch.pth").write_text(f"{share}\n", encoding="utf-8")


def _stub_torchaudio(python: Path) -> None:
    probe = subprocess.run(
        [str(python), "-c", "import torchaudio"], env=lf_env(), capture_output=True, cwd=_outside()
    )
    if probe.returncode != 0:
        stub = cache_dir() / "lf-stubs" / "torchaudio"
        stub.mkdir(parents=True, exist_ok=True)
        (stub / "__init__.py").write_text(TORCHAUDIO_STUB, encoding="utf-8")


def build() -> Path:
    venv = venv_dir()
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, cwd=_outside())
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True, cwd=_outside(),
        ).stdout.strip()
    )  # fmt: skip
    _borrow_torch(site)  # before pip runs: pip then sees torch installed and leaves it alone
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(
        [*pip, "--no-deps", LF_REQUIREMENTS[0]], check=True, cwd=_outside()
    )  # no torchaudio, gradio
    subprocess.run([*pip, *LF_REQUIREMENTS[1:]], check=True, cwd=_outside())
    _stub_torchaudio(python)
    return python


def ensure() -> Path:
    """The LLaMA-Factory python, built once (under a lock: teammates may ask at the same time)."""
    python = lf_python()
    if works(python):
        return python
    if os.environ.get("KUBEFACTORY_LF_PYTHON"):
        raise RuntimeError(f"KUBEFACTORY_LF_PYTHON={python} cannot import llamafactory")
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / "lf-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if works(python):
            return python
        if python.exists():
            _stub_torchaudio(python)
            if works(python):
                return python
        return build()


if __name__ == "__main__":
    print(ensure())
