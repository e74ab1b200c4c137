"""Gradient Explorer's core: data, models, losses, optimizers and the training engine.

Nothing here imports Streamlit; the app, the command line and the tests all call this.
"""

import jax

# Every number the learner sees is float64, as NumPy's are: float32 resolves values near
# 1e6 (the CSV loader's limit) only to 0.06. This must run before any JAX array is made,
# so the app and the command line import this package first.
jax.config.update("jax_enable_x64", True)

# ruff: noqa: E402

from .api import compare, fit
from .csvdata import DataError, load_csv
from .data import PRESETS, Dataset, make_preset
from .losses import LOSSES
from .models import MODELS, build_model
from .optim import OPTIMIZERS
from .train import History, train

__all__ = [
    "LOSSES",
    "MODELS",
    "OPTIMIZERS",
    "PRESETS",
    "DataError",
    "Dataset",
    "History",
    "build_model",
    "compare",
    "fit",
    "load_csv",
    "make_preset",
    "train",
]
