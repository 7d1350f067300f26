"""training_<key>.png from trainer_state.json, like LLaMA-Factory's plot_loss: the raw curve and an
exponential moving average, one figure per logged key (loss, eval_loss, rewards/accuracies, ...)."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"


def smooth(values: list[float]) -> list[float]:
    """Exponential moving average, its weight scaled to the run length so short runs are not flattened."""
    if not values:
        return []
    weight = 1.8 * (1 / (1 + math.exp(-0.05 * len(values))) - 0.5)
    out, last = [], values[0]
    for value in values:
        last = last * weight + (1 - weight) * value
        out.append(last)
    return out


def figure_name(key: str) -> str:
    return f"training_{key.replace('/', '_')}.png"


def plot_loss(output_dir: str | Path, keys: tuple[str, ...] = ("loss", "eval_loss")) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    state_file = Path(output_dir) / STATE_FILE
    history = (
        json.loads(state_file.read_text(encoding="utf-8")).get("log_history", [])
        if state_file.is_file()
        else []
    )
    written = []
    for key in keys:
        points = [(entry["step"], entry[key]) for entry in history if key in entry]
        if not points:
            log.info("plot_loss: no %s was logged; no figure for it", key)
            continue
        steps, values = zip(*points, strict=True)
        plt.figure()
        plt.plot(steps, values, color="#1f77b4", alpha=0.4, label="original")
        plt.plot(steps, smooth(list(values)), color="#1f77b4", label="smoothed")
        plt.title(f"training {key} of {output_dir}")
        plt.xlabel("step")
        plt.ylabel(key)
        plt.legend()
        path = Path(output_dir) / figure_name(key)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        plt.savefig(tmp, format="png", dpi=100)
        plt.close()
        os.replace(tmp, path)  # readers never see half a picture
        written.append(path)
    return written
