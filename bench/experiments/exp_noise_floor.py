"""How much of each model's error a perfect mean would still make: the Poisson floor.

A count drawn from a Poisson law around its true mean μ differs from μ by a variance of μ: no
forecast of the mean can do better on average. For each real dataset's cached run
(bench/out/real/<dataset>.pkl: run bench/bench_real.py first), at its modelled series, this
prints each model's mean squared error over the mean count — 1.0 is the Poisson floor, what
lies above it is the error a better mean (or over-dispersion no mean removes) leaves — and the
RMSE ratio to Prévisecours'. Near the floor (hourly counts), a few % less RMSE asks for a large
share of what is left above it; far above it (weekly sums), the mean still has room.

Writes bench/results/noise_floor.md. Usage (bench/ on the path):
    PYTHONPATH=bench .venv/bin/python bench/experiments/exp_noise_floor.py [--datasets ...]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from benchlib.accuracy import LABELS, OURS
from benchlib.common import WORK, Report
from benchlib.real_data import DATASETS


def floor_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per model: MSE / mean count (1.0: the Poisson floor), RMSE relative to Prévisecours'."""
    known = predictions.dropna(subset=["actual"])
    error = (known["mean"] - known["actual"]) ** 2
    mse = error.groupby(known["model"]).mean()
    mean_count = known.groupby("model")["actual"].mean()
    out = pd.DataFrame(
        {
            "mse_over_poisson": mse / mean_count,
            "rmse_vs_ours": np.sqrt(mse / mse[OURS]),
        }
    )
    out.index = pd.Index([LABELS.get(str(m), str(m)) for m in out.index], name="model")
    return out.sort_values("mse_over_poisson")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = parser.parse_args()
    report = Report("noise_floor", "The Poisson floor under each model's error", __doc__ or "")
    for name in args.datasets:
        cached = pd.read_pickle(WORK / "real" / f"{name}.pkl")
        predictions = cached["predictions"]
        mean_count = predictions.loc[predictions["model"] == OURS, "actual"].mean()
        report.table(
            f"{name}: modelled series × {cached['frequency']}, mean count {mean_count:.2f}",
            floor_table(predictions),
        )
    report.write()


if __name__ == "__main__":
    main()
