"""The Python API: ``fit`` and ``compare``, named as the command line's flags.

``resolve`` is the one place where a run's settings are filled in and checked: the command
line, the app and ``fit`` all go through it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from .csvdata import load_csv
from .data import Dataset, make_preset
from .losses import LOSS_SETTINGS, LOSSES
from .models import MODELS, Model, build_model
from .optim import OPTIMIZERS
from .registry import DEFAULT_PRESET, LOSS, SETTINGS, suggested
from .settings import BATCH_SIZE
from .train import History, check_outputs, evaluate, train

__all__ = ["DEFAULT_PRESET", "Comparison", "RunSpec", "compare", "fit", "resolve", "run"]


@dataclass(frozen=True)
class RunSpec:
    """Every setting of one run, filled in and checked.

    Attributes:
        data: the target points.
        model: the model, its size fixed.
        values: every setting by name (``SETTINGS``), checked; see ``used`` for the ones
            this run reads.
        init: explicit initial values, ``((name, value), ...)`` sorted.
        source: how the data was made (the preset and its knobs, or the file's name).
    """

    data: Dataset
    model: Model
    values: Mapping
    init: tuple
    source: Mapping

    @property
    def loss(self) -> str:
        return self.values["loss"]

    @property
    def used(self) -> dict:
        """The settings this run reads, by name: those of its model, loss and optimizer
        only, so two runs that differ in a setting neither reads are the same run."""
        v = self.values
        out = dict(model=v["model"], **dict(self.model.size), loss=v["loss"])
        out.update({s.name: v[s.name] for s in LOSSES[v["loss"]].settings})
        out.update(lr=v["lr"], epochs=v["epochs"], optimizer=v["optimizer"])
        out.update({s.name: v[s.name] for s in OPTIMIZERS[v["optimizer"]].settings})
        out.update(batch_size=v["batch_size"], seed=v["seed"])
        return out

    @property
    def loss_settings(self) -> dict:
        """Every loss's settings (what every metric of a run is measured with)."""
        return {s.name: self.values[s.name] for s in LOSS_SETTINGS}

    def with_loss(self, loss: str) -> RunSpec:
        return replace(self, values=MappingProxyType({**self.values, "loss": LOSS.check(loss)}))

    def config(self) -> dict:
        """What the run records as its settings (JSON-serialisable)."""
        init = {
            k: float(np.asarray(v).reshape(-1)[0]) if np.size(v) == 1 else np.asarray(v).tolist()
            for k, v in self.init
        }
        return dict(**self.source, **self.used, init=init)


def resolve(preset: str | None = None, data=None, init: dict | None = None, **given) -> RunSpec:
    """Fill in and check a run's settings: explicit values win, then the preset's
    suggestions, then each setting's default (``explorer.registry.SETTINGS``).

    A preset's suggested size (degree, relus, ...) and start (``init``) apply only to the
    model it suggests.

    Raises:
        ValueError: an unknown setting, or a value out of its bounds.
    """
    unknown = [k for k in given if k not in SETTINGS]
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}; the settings are {', '.join(SETTINGS)}")
    if data is not None and preset is not None:
        raise ValueError("give either a preset or data, not both")
    given = {k: v for k, v in given.items() if v is not None}
    if data is None:
        preset = preset or DEFAULT_PRESET
        base = suggested(preset)
    else:
        base = suggested(None)
    values = {**base, **given}
    model_name = SETTINGS["model"].check(values["model"])
    if model_name != base["model"]:
        # Size and start suggested for another model do not carry over.
        for s in MODELS[model_name].settings:
            values[s.name] = given.get(s.name, s.default)
        base_init = None
    else:
        base_init = base.get("init")
    values.pop("init", None)
    if init is None:
        init = base_init
    for name, s in SETTINGS.items():
        cap = values["points"] if s.high_from else None
        values[name] = s.check(values[name], high=cap)
    if data is None:
        dataset = make_preset(
            preset,
            points=values["points"],
            noise=values["noise"],
            outliers=values["outliers"],
            seed=values["seed"],
        )
        source = dict(
            preset=preset, points=dataset.n, noise=values["noise"], outliers=values["outliers"]
        )
    else:
        dataset = _dataset(data)
        source = dict(data=dataset.name, points=dataset.n)
        values.update(points=dataset.n, noise=0.0, outliers=0)
    values["batch_size"] = _batch(values["batch_size"], dataset.n)
    model = build_model(model_name, **values)
    check_outputs(dataset, model)
    return RunSpec(
        data=dataset,
        model=model,
        values=MappingProxyType(values),
        init=tuple(sorted(dict(init or {}).items())),
        source=MappingProxyType(source),
    )


def _dataset(data) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (str, bytes)) or hasattr(data, "read_bytes"):
        return load_csv(data)
    x, y = data
    return Dataset(x, y, "arrays")  # Dataset makes them float64


def _batch(batch_size, n: int) -> int | None:
    """The batch size the run actually uses: None (full batch) for all the points or more."""
    if batch_size is None:
        return None
    batch_size = BATCH_SIZE.check(batch_size)
    return None if batch_size >= n else batch_size


def run(spec: RunSpec) -> History:
    """Train the run a RunSpec describes."""
    used = spec.used
    return train(
        spec.data,
        spec.model,
        start(spec),
        **{k: v for k, v in used.items() if k not in ("model", *dict(spec.model.size))},
        config=spec.config(),
    )


def start(spec: RunSpec) -> np.ndarray:
    """The run's initial flat parameters (P,), without training it (read-only)."""
    try:
        return _start(spec.model, spec.values["seed"], spec.init)
    except TypeError:  # an explicit start given as a list or an array: not hashable
        p = spec.model.init(spec.values["seed"], dict(spec.init))
        p.flags.writeable = False
        return p


@functools.lru_cache(maxsize=64)
def _start(model: Model, seed: int, init: tuple) -> np.ndarray:
    # Cached: drawing a start costs about 30 us, a tenth of a short fit's fixed cost.
    p = model.init(seed, dict(init))
    p.flags.writeable = False  # shared by every run with this start
    return p


def fit(**settings) -> History:
    """Fit a model to target points by gradient descent and return the whole history.

    Keyword arguments are named as the command line's flags: ``preset`` or ``data``
    (a Dataset, CSV path or bytes, or an ``(x, y)`` pair of arrays), ``points``, ``noise``,
    ``outliers``, ``seed``, ``model`` with ``degree`` / ``relus`` / ``width`` /
    ``activation``, ``loss`` (l1, l2, mse, huber), ``optimizer`` (sgd, momentum, adam),
    ``lr``, ``epochs``, ``batch_size``, ``init`` (``{"a": 1.1}``), ``momentum``, ``beta1``,
    ``beta2``, ``huber_delta``. Unset settings take the preset's suggestions.

    Returns:
        A ``History``: ``params`` (K, P), ``loss`` (K,), ``grads`` (K, P) for epochs
        0..K-1, ``param_names``, ``diverged_at``, animation frames, ``to_dict()``.

    Example:
        >>> h = fit(preset="fastai-quadratic", loss="l1", lr=0.01, epochs=10)
        >>> round(float(h.loss[0]), 4)
        2.4219
    """
    return run(resolve(**settings))


@dataclass(frozen=True)
class Comparison:
    """Runs of several losses from the same data, start and learning rate."""

    spec: RunSpec
    runs: dict[str, History]

    def table(self) -> list[dict]:
        """One row per loss: final value of every metric, final parameters, epochs run."""
        return comparison_rows(self.runs, self.spec.loss_settings)


def compare_specs(spec: RunSpec, losses) -> dict[str, RunSpec]:
    """The runs of a comparison: ``spec`` once per loss (same data, start, settings)."""
    if isinstance(losses, str):
        losses = [s.strip() for s in losses.split(",") if s.strip()]
    for name in losses:
        LOSS.check(name)
    if not losses:
        raise ValueError("name at least one loss to compare")
    return {name: spec.with_loss(name) for name in dict.fromkeys(losses)}


def comparison_rows(runs: Mapping[str, History], loss_settings: Mapping) -> list[dict]:
    """One row per run: the loss it was trained on, the epochs it ran, where it diverged,
    every metric of its final parameters (``final_l1``, ...) and those parameters.

    A metric that overflows float64 at the final parameters is None, as are all values of
    a run that was not finite even at its start (``epochs_run`` None, no parameters).
    """
    rows = []
    for name, h in runs.items():
        k = h.last_epoch
        row = dict(loss=name, epochs_run=None, diverged_at=h.diverged_at)
        row.update({f"final_{m}": None for m in LOSSES})
        if k >= 0:
            row["epochs_run"] = k
            metrics = evaluate(h.model, h.params[k], h.x, h.y, **loss_settings).metrics
            row.update({f"final_{m}": (v if np.isfinite(v) else None) for m, v in metrics.items()})
            for i, param in enumerate(h.param_names):
                row[param] = float(h.params[k, i])
        rows.append(row)
    return rows


def compare(losses=("l1", "l2"), **settings) -> Comparison:
    """Train the same run once per loss in ``losses`` (same data, start, learning rate).

    Raises:
        ValueError: ``loss=`` given (compare trains every loss in ``losses``), an unknown
            loss, or any setting ``fit`` refuses.
    """
    if "loss" in settings:
        raise ValueError(
            "compare trains one run per loss in losses=...; it takes no loss= "
            f"(got loss={settings['loss']!r})"
        )
    spec = resolve(**settings)
    specs = compare_specs(spec, losses)
    return Comparison(spec, {name: run(s) for name, s in specs.items()})
