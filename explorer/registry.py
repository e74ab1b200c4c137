"""Every setting of a run in one table, and what each preset suggests.

The losses, optimizers and models declare their own settings beside them; this module puts
them together with the settings every run has, in the order the app and the command line
show them. ``SETTINGS`` is what the API validates against, the command line makes flags of
and the app makes widgets and link rules of.
"""

from __future__ import annotations

from collections.abc import Mapping

from .data import PRESETS
from .losses import LOSS_SETTINGS, LOSSES
from .models import MODELS, SIZE_SETTINGS
from .optim import OPTIMIZER_SETTINGS, OPTIMIZERS
from .settings import (
    BATCH_SIZE,
    EPOCHS,
    LR,
    NOISE,
    OUTLIERS,
    POINTS,
    SEED,
    VALIDATION,
    Setting,
    registry,
)

DEFAULT_PRESET = "fastai-quadratic"

PRESET = Setting(
    "preset",
    "Target points",
    DEFAULT_PRESET,
    "Presets follow fast.ai lesson 3 and fastbook chapter 4.",
    choices=tuple(PRESETS),
)
MODEL = Setting(
    "model",
    "Function to fit",
    "quadratic",
    "The function whose parameters are learned.",
    choices=tuple(MODELS),
)
LOSS = Setting("loss", "Loss", "l2", "What gradient descent makes small.", choices=tuple(LOSSES))
OPTIMIZER = Setting(
    "optimizer",
    "Optimizer",
    "sgd",
    " ".join(f"{o.label}: {o.words}" for o in OPTIMIZERS.values()),
    choices=tuple(OPTIMIZERS),
    link="opt",
)

# In the order they are shown: data, model, training.
SETTINGS: Mapping[str, Setting] = registry(
    (
        POINTS,
        NOISE,
        OUTLIERS,
        SEED,
        VALIDATION,
        MODEL,
        *SIZE_SETTINGS,
        LOSS,
        *LOSS_SETTINGS,
        LR,
        EPOCHS,
        OPTIMIZER,
        *OPTIMIZER_SETTINGS,
        BATCH_SIZE,
    )
)
if len({s.link for s in SETTINGS.values()}) != len(SETTINGS):
    raise ValueError("two settings share a link key")


def suggested(preset: str | None) -> dict:
    """Every setting's value before anyone chooses: the preset's recipe (points, noise) and
    suggestions (model, loss, lr, ...) over each setting's default; ``init`` too when the
    preset suggests a start. ``preset=None`` (your own data) gives the defaults."""
    values = {name: s.default for name, s in SETTINGS.items()}
    if preset is not None:
        p = PRESETS[PRESET.check(preset)]
        values.update(points=p.points, noise=p.noise, **p.defaults)
    return values


def _check_presets() -> None:
    # A preset suggesting a setting that does not exist, or a value out of its bounds, fails
    # at import rather than when somebody picks it.
    for p in PRESETS.values():
        for key, value in p.defaults.items():
            if key == "init":
                continue
            if key not in SETTINGS:
                raise ValueError(f"preset {p.name} suggests unknown setting {key!r}")
            SETTINGS[key].check(value)


_check_presets()


def _accepted(s: Setting) -> str:
    if s.choices:
        return ", ".join(f"`{c}`" for c in s.choices)
    text = s.bounds_text().removeprefix("a ")
    if s.none_label is not None:
        text += f", or all points (`{s.none_label}` in the app)"
    if s.high_from:
        text += f", at most {s.high_from}"
    return text


def _default(s: Setting) -> str:
    if s.default is None:
        return "all points"
    return f"`{s.default:g}`" if isinstance(s.default, float) else f"`{s.default}`"


def markdown_tables() -> str:
    """The README's tables of losses, optimizers, models and settings, made from the
    declarations (``tests/test_readme.py`` checks that the README holds them)."""
    lines = ["| loss | what it is | its settings |", "| --- | --- | --- |"]
    for loss in LOSSES.values():
        own = ", ".join(f"`{s.name}`" for s in loss.settings) or "none"
        lines.append(f"| `{loss.name}` ({loss.short}) | {loss.words} | {own} |")
    lines += ["", "| optimizer | what it does | its settings |", "| --- | --- | --- |"]
    for opt in OPTIMIZERS.values():
        own = ", ".join(f"`{s.name}`" for s in opt.settings) or "none"
        lines.append(f"| `{opt.name}` ({opt.label}) | {opt.words} | {own} |")
    lines += ["", "| model | function | its settings |", "| --- | --- | --- |"]
    for family in MODELS.values():
        own = ", ".join(f"`{s.name}`" for s in family.settings) or "none"
        lines.append(f"| `{family.name}` | {family.words} | {own} |")
    lines += [
        "",
        "| setting | flag | default | accepted | what it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS.values():
        lines.append(f"| `{s.name}` | `{s.flag}` | {_default(s)} | {_accepted(s)} | {s.help} |")
    return "\n".join(lines)
