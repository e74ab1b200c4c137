"""Gradient Explorer's core: data, models, losses, optimizers and the training engine.

Nothing here imports Streamlit; the app, the command line and the tests all call this.
"""

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
