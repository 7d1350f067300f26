"""training_loss.png (and eval_loss.png) from trainer_log.jsonl, like LLaMA-Factory's plot_loss."""

from __future__ import annotations

from pathlib import Path

from .artifacts import TRAINER_LOG, read_jsonl


def _smooth(values: list[float]) -> list[float]:
    """Exponential moving average, scaled to the run length so short runs are not flattened."""
    if not values:
        return []
    import math

    weight = 1.8 * (1 / (1 + math.exp(-0.05 * len(values))) - 0.5)
    out, last = [], values[0]
    for value in values:
        last = last * weight + (1 - weight) * value
        out.append(last)
    return out


def plot_loss(output_dir: str | Path, keys: tuple[str, ...] = ("loss", "eval_loss")) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_jsonl(Path(output_dir) / TRAINER_LOG)
    written = []
    for key in keys:
        points = [(r["current_steps"], r[key]) for r in records if key in r]
        if not points:
            continue
        steps, values = zip(*points)
        plt.figure()
        plt.plot(steps, values, color="#1f77b4", alpha=0.4, label="original")
        plt.plot(steps, _smooth(list(values)), color="#1f77b4", label="smoothed")
        plt.title(f"training {key} of {output_dir}")
        plt.xlabel("step")
        plt.ylabel(key)
        plt.legend()
        name = "training_loss.png" if key == "loss" else f"training_{key}.png"
        path = Path(output_dir) / name
        plt.savefig(path, format="png", dpi=100)
        plt.close()
        written.append(path)
    return written
