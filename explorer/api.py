"""The Python API: ``fit`` and ``compare``, named as the command line's flags."""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from .csvdata import load_csv
from .data import PRESETS, Dataset, make_preset
from .losses import LOSSES
from .models import build_model
from .train import History, evaluate, train

DEFAULT_PRESET = "fastai-quadratic"
# Settings for data that comes without a preset's suggestions (a CSV, arrays).
GENERIC_DEFAULTS = MappingProxyType(
    dict(model="quadratic", loss="l2", optimizer="sgd", lr=0.01, epochs=100)
)


@dataclass(frozen=True)
class RunSpec:
    """Every setting of one run, with the preset's suggestions filled in."""

    data: Dataset
    model_name: str
    size: dict
    loss: str
    optimizer: str
    lr: float
    epochs: int
    batch_size: int | None
    seed: int
    init: dict
    momentum: float
    beta1: float
    beta2: float
    huber_delta: float
    source: dict  # how the data was made (preset knobs or file name)


def resolve(
    preset: str | None = None,
    data=None,
    points: int | None = None,
    noise: float | None = None,
    outliers: int = 0,
    seed: int = 42,
    model: str | None = None,
    degree: int | None = None,
    relus: int | None = None,
    width: int | None = None,
    activation: str | None = None,
    loss: str | None = None,
    optimizer: str | None = None,
    lr: float | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    init: dict | None = None,
    momentum: float = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    huber_delta: float = 1.0,
) -> RunSpec:
    """Fill in a run's settings: explicit values win, then the preset's suggestions."""
    if data is not None and preset is not None:
        raise ValueError("give either a preset or data, not both")
    if data is None:
        preset = preset or DEFAULT_PRESET
        dataset = make_preset(preset, points=points, noise=noise, outliers=outliers, seed=seed)
        suggested = {**GENERIC_DEFAULTS, **PRESETS[preset].defaults}
        source = dict(
            preset=preset,
            points=dataset.n,
            noise=noise if noise is not None else PRESETS[preset].noise,
            outliers=outliers,
        )
    else:
        if isinstance(data, Dataset):
            dataset = data
        elif isinstance(data, (str, bytes)) or hasattr(data, "read_bytes"):
            dataset = load_csv(data)
        else:
            x, y = data
            dataset = Dataset(np.asarray(x, float), np.asarray(y, float), "arrays")
        suggested = dict(GENERIC_DEFAULTS)
        source = dict(data=dataset.name, points=dataset.n)
    model = model or suggested["model"]
    size = {
        k: v
        for k, v in dict(degree=degree, relus=relus, width=width, activation=activation).items()
        if v is not None
    }
    for key in ("relus", "degree", "width", "activation"):
        if key not in size and model == suggested["model"] and key in suggested:
            size[key] = suggested[key]
    if init is None and model == suggested["model"]:
        init = suggested.get("init")
    if optimizer is None:
        optimizer = suggested.get("optimizer", "sgd")
    return RunSpec(
        data=dataset,
        model_name=model,
        size=size,
        loss=loss or suggested["loss"],
        optimizer=optimizer,
        lr=suggested["lr"] if lr is None else lr,
        epochs=suggested["epochs"] if epochs is None else epochs,
        batch_size=batch_size,
        seed=seed,
        init=dict(init or {}),
        momentum=momentum,
        beta1=beta1,
        beta2=beta2,
        huber_delta=huber_delta,
        source=source,
    )


def run(spec: RunSpec) -> History:
    """Train the run a RunSpec describes."""
    model = build_model(spec.model_name, **spec.size)
    p0 = model.init(spec.seed, spec.init)
    config = dict(
        **spec.source,
        seed=spec.seed,
        model=model.name,
        **dict(model.size),
        loss=spec.loss,
        optimizer=spec.optimizer,
        lr=spec.lr,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        init={
            k: float(np.asarray(v).reshape(-1)[0]) if np.size(v) == 1 else np.asarray(v).tolist()
            for k, v in spec.init.items()
        },
        momentum=spec.momentum,
        beta1=spec.beta1,
        beta2=spec.beta2,
        huber_delta=spec.huber_delta,
    )
    return train(
        spec.data,
        model,
        p0,
        loss=spec.loss,
        optimizer=spec.optimizer,
        lr=spec.lr,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        seed=spec.seed,
        momentum=spec.momentum,
        beta1=spec.beta1,
        beta2=spec.beta2,
        huber_delta=spec.huber_delta,
        config=config,
    )


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

    runs: dict[str, History]

    def table(self) -> list[dict]:
        """One row per loss: final value of every metric, final parameters, epochs run.

        A metric that overflows float64 at the final parameters is None, as are all values
        of a run that was not finite even at its start.
        """
        rows = []
        for name, h in self.runs.items():
            k = h.last_epoch
            metrics = (
                evaluate(h.model, h.params[k], h.x, h.y, name, h.config["huber_delta"]).metrics
                if k >= 0
                else {}
            )
            metrics = {m: (v if np.isfinite(v) else None) for m, v in metrics.items()}
            rows.append(
                dict(
                    loss=name,
                    epochs_run=k if k >= 0 else None,
                    diverged_at=h.diverged_at,
                    **{f"final_{m}": v for m, v in metrics.items()},
                    **(
                        dict(zip(h.param_names, h.params[k].tolist(), strict=True))
                        if k >= 0
                        else {}
                    ),
                )
            )
        return rows


def compare(losses=("l1", "l2"), **settings) -> Comparison:
    """Train the same run once per loss in ``losses`` (same data, start, learning rate)."""
    if isinstance(losses, str):
        losses = [s.strip() for s in losses.split(",") if s.strip()]
    for name in losses:
        if name not in LOSSES:
            raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")
    if not losses:
        raise ValueError("name at least one loss to compare")
    settings.pop("loss", None)
    spec = resolve(**settings)
    return Comparison({name: run(replace(spec, loss=name)) for name in dict.fromkeys(losses)})
