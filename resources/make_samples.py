"""Generate the bundled sample states in resources/samples/ (deterministic, no downloads).

Run from the repository root:  python resources/make_samples.py

The samples mimic what users save with the widely copied CSV recipe and with this tool:
a small multilayer perceptron's weights plus Adam optimizer state (step counter, learning
rate, first and second moments), written in both data encodings; the same weights the
way the recipe writes them (positional names, no optimizer state); and a file with
typical damage, to show how bad rows are reported.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from pathlib import Path

import numpy as np

SAMPLES = Path(__file__).resolve().parent / "samples"


def mlp_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-initialised MLP 64-128-64-10 after a few noisy 'updates', Keras 3 variable paths."""
    sizes = [64, 128, 64, 10]
    weights: dict[str, np.ndarray] = {}
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layer = "dense" if index == 0 else f"dense_{index}"
        kernel = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        weights[f"sequential/{layer}/kernel"] = kernel.astype(np.float32)
        weights[f"sequential/{layer}/bias"] = (rng.standard_normal(fan_out) * 0.01).astype(
            np.float32
        )
    return weights


def adam_state(
    rng: np.random.Generator, weights: dict[str, np.ndarray], steps: int
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, str]]]:
    tensors: dict[str, np.ndarray] = {
        "optimizer/iteration": np.array(steps, dtype=np.int64),
        "optimizer/learning_rate": np.array(1e-3, dtype=np.float32),
    }
    meta: dict[str, dict[str, str]] = {
        "optimizer/iteration": {"role": "optimizer"},
        "optimizer/learning_rate": {"role": "optimizer"},
    }
    for name, value in weights.items():
        short = name.removeprefix("sequential/").replace("/", "_")
        grad_scale = 1e-3
        m = (rng.standard_normal(value.shape) * grad_scale).astype(np.float32)
        v = (rng.standard_normal(value.shape) * grad_scale) ** 2
        for slot, data in (("m", m), ("v", v.astype(np.float32))):
            key = f"optimizer/adam/{short}_{'momentum' if slot == 'm' else 'velocity'}"
            tensors[key] = data
            meta[key] = {"role": "optimizer", "slot_of": name, "slot": slot}
    return tensors, meta


def write_recipe_text(path: Path, weights: list[np.ndarray]) -> None:
    """Exactly what the recipe's saving example writes: weight_N names, str() values."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tensor_name", "tensor_data", "tensor_metadata"])
        for index, weight in enumerate(weights):
            data = ",".join(map(str, weight.flatten()))
            meta = json.dumps({"shape": list(weight.shape), "dtype": str(weight.dtype)})
            writer.writerow([f"weight_{index}", data, meta])


def write_damaged(path: Path, rng: np.random.Generator) -> None:
    good = rng.standard_normal((4, 3)).astype(np.float32)
    meta = json.dumps({"shape": [4, 3], "dtype": "float32"})
    rows = [
        ["tensor_name", "tensor_data", "tensor_metadata"],
        ["dense/kernel", ",".join(map(str, good.flatten())), meta],
        ["dense/bias", "0.1,0.2,oops", json.dumps({"shape": [3], "dtype": "float32"})],
        ["dense_1/kernel", "1,2,3", json.dumps({"shape": [100000, 100000], "dtype": "float64"})],
        ["dense_1/bias", "1,2", '{"shape": [2], "dtype": '],
        ["labels", "a,b", json.dumps({"shape": [2], "dtype": "object"})],
        ["dense/kernel", "0,0", json.dumps({"shape": [2], "dtype": "float32"})],
        ["dense_2/bias", "0.5,-0.5", json.dumps({"shape": [2], "dtype": "float32"})],
    ]
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from csv_state_viewer import save_state

    SAMPLES.mkdir(exist_ok=True)
    rng = np.random.default_rng(20261124)
    weights = mlp_weights(rng)
    optimizer, optimizer_meta = adam_state(rng, weights, steps=1500)
    tensors = {**weights, **optimizer}
    metadata = {name: {"role": "weight"} for name in weights} | optimizer_meta
    save_state(SAMPLES / "mlp_adam.csv", tensors, "text", metadata=metadata)
    save_state(SAMPLES / "mlp_adam_base64.csv", tensors, "base64", metadata=metadata)
    write_recipe_text(SAMPLES / "mlp_recipe.csv", list(weights.values()))
    write_damaged(SAMPLES / "damaged.csv", rng)
    # The same run 500 steps later (small updates to every weight), to compare against.
    later_rng = np.random.default_rng(20261125)
    later = {
        name: (value - 2e-3 * later_rng.standard_normal(value.shape)).astype(np.float32)
        for name, value in weights.items()
    }
    later_optimizer, _ = adam_state(later_rng, later, steps=2000)
    later_tensors = {**later, **later_optimizer}
    save_state(SAMPLES / "mlp_adam_later.csv", later_tensors, "text", metadata=metadata)
    for path in sorted(SAMPLES.glob("*.csv")):
        print(f"{path.relative_to(SAMPLES.parent.parent)}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
