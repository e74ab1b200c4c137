"""Settings: each declared once, with its default, bounds or choices, label and help.

A ``Setting`` is everything the explorer knows about one knob. The API validates with it
and fills in its default, the command line makes a flag of it, the app a widget, and the
link checker a rule, so none of them can drift from the others. Losses, optimizers and
models carry their own settings (``Loss.settings`` ...); this module holds the ones every
run has.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

MAX_EPOCHS = 10_000
MIN_POINTS = 2
MAX_POINTS = 10_000


@dataclass(frozen=True)
class Setting:
    """One knob.

    Attributes:
        name: the keyword of ``fit``/``compare`` and, with dashes, the CLI flag.
        label: what the app's widget says.
        default: the value when nobody chooses one.
        help: one line for people (the widget's tooltip, the flag's help).
        low, high: accepted values (inclusive unless ``low_open``/``high_open``).
        whole: a whole number.
        choices: the accepted values of a choice setting (names).
        options: the values the app offers on a slider of fixed stops (lr, epochs).
        ui: (low, high, step) of the app's slider when narrower than the accepted range.
        link: the key in the app's link (defaults to ``name``).
        high_from: another setting whose value caps this one (outliers <= points).
        none_label: for a setting that may be None (batch size): how the app shows None.
    """

    name: str
    label: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    whole: bool = False
    choices: tuple[str, ...] = ()
    options: tuple = ()
    ui: tuple[float, float, float] | None = None
    link: str = ""
    high_from: str | None = None
    none_label: str | None = None

    def __post_init__(self):
        if not self.link:
            object.__setattr__(self, "link", self.name)
        if self.default is not None or self.none_label is None:
            self.check(self.default)
        for value in self.options:
            if value != self.none_label:
                self.check(value)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def kind(self) -> type:
        """The Python type of a value: str for choices, int or float for numbers."""
        if self.choices:
            return str
        return int if self.whole else float

    def bounds_text(self, high: float | None = None) -> str:
        """The accepted values in words: ``a number in (0, 1)``, ``one of l1, l2``."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        high = self.high if high is None else high
        if self.whole:
            return f"a whole number from {_g(self.low)} to {_g(high)}"
        lo, hi = ("(" if self.low_open else "["), (")" if self.high_open else "]")
        return f"a number in {lo}{_g(self.low)}, {_g(high)}{hi}"

    def check(self, value, high: float | None = None):
        """``value`` as this setting's type, or ValueError saying what is accepted.

        Args:
            value: the value given.
            high: the cap from ``high_from`` (e.g. the number of points), if any.
        """
        if value is None and self.none_label is not None:
            return None
        if self.choices:
            if not isinstance(value, str) or value not in self.choices:
                raise ValueError(
                    f"unknown {self.name} {value!r}; choose one of {', '.join(self.choices)}"
                )
            return value
        cap = self.high if high is None else min(high, self.high)
        if not _in_range(value, self.low, cap, self.low_open, self.high_open, self.whole):
            raise ValueError(f"{self.name} must be {self.bounds_text(cap)}, not {_show(value)}")
        return int(value) if self.whole else float(value)

    def parse(self, value, high: float | None = None):
        """``check`` of a value that may be text (the command line's ``--values 0.1,0.01``,
        ``--then lr=0.001``): a number setting reads ``"0.1"`` as 0.1, a setting that may
        be None reads its ``none_label`` (``"all"``) as None; anything else as ``check``."""
        if not isinstance(value, str):
            return self.check(value, high=high)
        text = value.strip()
        if self.none_label is not None and text == self.none_label:
            return None
        if self.choices:
            return self.check(text)
        try:
            number = float(text)
        except ValueError:
            raise ValueError(
                f"{self.name} must be {self.bounds_text(high)}, not {value!r}"
            ) from None
        if self.whole and number.is_integer():
            number = int(number)
        return self.check(number, high=high)


def _g(v) -> str:
    return str(int(v)) if float(v) == int(v) else f"{v:g}"


def _show(value) -> str:
    return repr(value.item()) if isinstance(value, np.generic) else repr(value)


def _in_range(value, low, high, low_open, high_open, whole) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    if not math.isfinite(value):
        return False
    if whole and int(value) != value:
        return False
    if low is not None and (value <= low if low_open else value < low):
        return False
    if high is not None and (value >= high if high_open else value > high):
        return False
    return True


def registry(entries: Iterable) -> Mapping[str, Any]:
    """A read-only name -> entry mapping, in declaration order; names must be unique."""
    out: dict = {}
    for entry in entries:
        if entry.name in out:
            raise ValueError(f"{entry.name!r} is declared twice")
        out[entry.name] = entry
    return MappingProxyType(out)


def settings_values(settings: Iterable[Setting], given: Mapping) -> dict:
    """Each setting's value: ``given`` (checked) or its default."""
    out = {}
    for s in settings:
        value = given.get(s.name)
        out[s.name] = s.default if value is None else s.check(value)
    return out


# Stops of the app's learning-rate slider: 1, 2, 3 and 5 times each power of ten.
LR_STOPS = tuple(float(f"{m}e{e}") for e in range(-6, 1) for m in (1, 2, 3, 5)) + (10.0,)

# The settings every run has, in the order the app and the command line show them.
POINTS = Setting(
    "points",
    "Number of points",
    20,
    "How many target points the preset draws.",
    low=MIN_POINTS,
    high=MAX_POINTS,
    whole=True,
    ui=(MIN_POINTS, 1000, 1),
)
NOISE = Setting(
    "noise",
    "Noise",
    1.0,
    "Standard deviation of the noise added to the preset's curve.",
    low=0,
    high=100,
    ui=(0.0, 10.0, 0.05),
)
OUTLIERS = Setting(
    "outliers",
    "Outliers",
    0,
    "Points thrown far above the curve: where L1 and L2 disagree.",
    low=0,
    high=MAX_POINTS,
    whole=True,
    ui=(0, 10, 1),
    high_from="points",
)
SEED = Setting(
    "seed",
    "Seed",
    42,
    "Seeds the noise, the outliers, the random start, the mini-batch shuffle and the "
    "held-out points.",
    low=0,
    high=2**32 - 1,
    whole=True,
    ui=(0, 2**31 - 1, 1),
)
LR = Setting(
    "lr",
    "Learning rate",
    0.01,
    "The step is learning rate × gradient.",
    low=0,
    high=1e3,
    options=LR_STOPS,
)
EPOCHS = Setting(
    "epochs",
    "Epochs",
    100,
    "Passes over the data: one step each with all points, or one step per mini-batch.",
    low=0,
    high=MAX_EPOCHS,
    whole=True,
    options=(1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 10000),
)
BATCH_SIZE = Setting(
    "batch_size",
    "Batch size",
    None,
    "Points per step; all of them (the default) is full-batch gradient descent, fewer take "
    "several shuffled steps per epoch.",
    low=1,
    high=MAX_POINTS,
    whole=True,
    options=("all", 1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    link="batch",
    none_label="all",
)
VALIDATION = Setting(
    "validation",
    "Held-out share",
    0.0,
    "Share of the points held out of training (drawn with the seed), to see how the fit "
    "does on points it never learned from.",
    low=0,
    high=0.5,
    ui=(0.0, 0.5, 0.05),
)
DATA_SETTINGS: tuple[Setting, ...] = (POINTS, NOISE, OUTLIERS, SEED, VALIDATION)
TRAIN_SETTINGS: tuple[Setting, ...] = (LR, EPOCHS, BATCH_SIZE)
