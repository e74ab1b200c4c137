"""Gradient Explorer's core: data, models, losses, optimizers, the training engine and what
it shows about descent (loss landscapes, learning-rate sweeps).

Nothing here imports Streamlit; the app, the command line and the tests all call this.
"""

import jax

# Every number the learner sees is float64, as NumPy's are: float32 resolves values near
# 1e6 (the CSV loader's limit) only to 0.06. This must run before any JAX array is made,
# so the app and the command line import this package first.
jax.config.update("jax_enable_x64", True)

# ruff: noqa: E402

from .api import branch, compare, fit
from .csvdata import DataError, load_csv
from .data import PRESETS, Dataset, make_preset
from .descent import Landscape, contributions, landscape
from .losses import LOSSES
from .lrfind import LRFind, lr_find
from .models import MODELS, build_model
from .optim import OPTIMIZERS
from .rates import Sweep, stability_limit, sweep
from .train import History, train

__all__ = [
    "LOSSES",
    "MODELS",
    "OPTIMIZERS",
    "PRESETS",
    "DataError",
    "Dataset",
    "History",
    "LRFind",
    "Landscape",
    "Sweep",
    "branch",
    "build_model",
    "compare",
    "contributions",
    "fit",
    "landscape",
    "load_csv",
    "lr_find",
    "make_preset",
    "stability_limit",
    "sweep",
    "train",
]
