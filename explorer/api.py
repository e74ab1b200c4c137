"""The Python API: ``fit``, ``branch`` and ``compare``, named as the command line's flags.

``resolve`` is the one place where a run's settings are filled in and checked: the command
line, the app, ``fit``, ``branch`` and ``compare`` all go through it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from .csvdata import load_csv
from .data import Dataset, held_out_count, hold_out, make_preset
from .losses import LOSS_SETTINGS, LOSSES
from .models import MODELS, SIZE_SETTINGS, Model, build_model
from .optim import OPTIMIZERS
from .registry import DEFAULT_PRESET, LOSS, SETTINGS, suggested
from .settings import BATCH_SIZE, Setting
from .train import History, check_outputs, evaluate, train

__all__ = [
    "DEFAULT_PRESET",
    "Comparison",
    "RunSpec",
    "branch",
    "compare",
    "fit",
    "resolve",
    "run",
]


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
        if v["validation"] > 0:
            out["validation"] = v["validation"]
        return out

    @property
    def held_out(self) -> np.ndarray:
        """(n,) bool, read-only: the points held out of training (``data.hold_out`` of the
        ``validation`` share and the seed); all False for a share of 0."""
        return hold_out(self.data.n, self.values["validation"], self.values["seed"])

    @property
    def loss_settings(self) -> dict:
        """Every loss's settings (what every metric of a run is measured with)."""
        return {s.name: self.values[s.name] for s in LOSS_SETTINGS}

    def with_loss(self, loss: str) -> RunSpec:
        return replace(self, values=MappingProxyType({**self.values, "loss": LOSS.check(loss)}))

    def config(self) -> dict:
        """What the run records as its settings (JSON-serialisable)."""
        return dict(**self.source, **self.used, init=_init_json(self.init))


def _init_json(items) -> dict:
    return {
        k: float(np.asarray(v).reshape(-1)[0]) if np.size(v) == 1 else np.asarray(v).tolist()
        for k, v in items
    }


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
    own = MODELS[model_name].settings
    if model_name != base["model"]:
        # Size and start suggested for another model do not carry over.
        for s in own:
            values[s.name] = given.get(s.name, s.default)
        base_init = None
    elif any(values[s.name] != base[s.name] for s in own):
        base_init = None  # nor does a start suggested for another size (c0..c8 of degree 8)
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
    # A batch of at least the training points is full batch.
    trained = dataset.n - held_out_count(dataset.n, values["validation"])
    values["batch_size"] = _batch(values["batch_size"], trained)
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
    """Train the run a RunSpec describes (on its points not held out)."""
    return train(
        spec.data,
        spec.model,
        start(spec),
        **_train_settings(spec),
        config=spec.config(),
        val_mask=spec.held_out,
    )


def _train_settings(spec: RunSpec) -> dict:
    """``train``'s keyword settings of a run: what it reads but the model and held-out share."""
    skip = ("model", "validation", *dict(spec.model.size))
    return {k: v for k, v in spec.used.items() if k not in skip}


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
    ``outliers``, ``seed``, ``validation``, ``model`` with ``degree`` / ``relus`` /
    ``width`` / ``activation``, ``loss`` (l1, l2, mse, huber), ``optimizer`` (sgd,
    momentum, adam), ``lr``, ``epochs``, ``batch_size``, ``init`` (``{"a": 1.1}``),
    ``momentum``, ``beta1``, ``beta2``, ``huber_delta``. Unset settings take the preset's
    suggestions.

    ``validation`` (0 to 0.5) holds that share of the points out of training
    (``data.hold_out``: seeded by ``seed``; at least one point held out when above 0, at
    least one trained on): the run trains on the others, ``loss`` and ``grads`` are over
    them, and ``val_loss`` is the same loss on the held-out points at every epoch.

    Returns:
        A ``History``: ``params`` (K, P), ``loss`` (K,), ``grads`` (K, P) for epochs
        0..K-1, ``val_mask`` (n,) and ``val_loss`` (K,) (None without held-out points),
        ``param_names``, ``diverged_at``, animation frames, ``to_dict()``.

    Example:
        >>> h = fit(preset="fastai-quadratic", loss="l1", lr=0.01, epochs=10)
        >>> round(float(h.loss[0]), 4)
        2.4219
    """
    return run(resolve(**settings))


# ---------------------------------------------------------------------------- branch

# What a branch keeps from its run: the points (and which are held out) and the model that
# its parameters belong to.
BRANCH_KEEPS: tuple[str, ...] = (
    "points",
    "noise",
    "outliers",
    "validation",
    "model",
    *(s.name for s in SIZE_SETTINGS),
)


def branch(h: History, epoch: int, **changes) -> History:
    """A new run that starts from run ``h``'s parameters at ``epoch`` with some settings
    changed: what would have happened with Adam from epoch 50, or a smaller learning rate.

    The branch trains on the same points as ``h`` (the same held-out points too), with
    ``h``'s settings (``h.config``) updated by ``changes`` (any setting ``fit`` takes but
    the data's and the model's: lr, epochs, loss, optimizer, its settings, batch_size,
    seed), from ``h.params[epoch]`` with a fresh optimizer state. ``epochs`` defaults to
    what was left of ``h``: ``h.epochs - epoch``. Its mini-batches (if any) are the ones
    ``h`` would have drawn from ``epoch`` on (a changed seed draws others). So with no
    changes and full-batch or mini-batch SGD (no optimizer state to lose), the branch is
    ``h`` from ``epoch`` on: ``b.params[j] == h.params[epoch + j]``.

    The branch's ``config`` has its settings, ``init`` (the named parameters it started
    from) and ``branch``: ``{"epoch": epoch, "changed": {name: value}, "parent":
    h.config}``.

    Args:
        h: the run to branch from.
        epoch: 0..``h.last_epoch``.
        **changes: settings by name, checked as ``fit`` checks them.

    Returns:
        The branch's History (its epoch 0 is ``h``'s ``epoch``).

    Raises:
        ValueError: an epoch outside 0..h.last_epoch, a setting the branch cannot change
            (the data, the held-out share, the model) or a value ``fit`` refuses.
    """
    last = h.last_epoch
    if last < 0:
        raise ValueError("the run has no finite epoch to branch from")
    if (
        isinstance(epoch, bool)
        or not isinstance(epoch, (int, np.integer))
        or not 0 <= epoch <= last
    ):
        raise ValueError(
            f"epoch must be a whole number from 0 to {last} (the run's last epoch), not {epoch!r}"
        )
    epoch = int(epoch)
    for name in changes:
        if name in BRANCH_KEEPS or name in ("preset", "data", "init"):
            raise ValueError(
                f"a branch keeps its run's data, held-out points, model and start (the "
                f"parameters at epoch {epoch}); it cannot change {name}"
            )
    config = h.config
    source = {
        k: config[k] for k in ("preset", "data", "points", "noise", "outliers") if k in config
    }
    given = {k: v for k, v in config.items() if k in SETTINGS and k not in ("points", "noise")}
    given.pop("outliers", None)
    given["epochs"] = h.epochs - epoch
    # None is "unset" but for a setting whose None is a value (batch_size: all points).
    changes = {
        k: v
        for k, v in changes.items()
        if v is not None or getattr(SETTINGS.get(k), "none_label", None)
    }
    given.update(changes)
    named = h.params_at(epoch)
    spec = resolve(data=Dataset(h.x, h.y, "run"), init=named, **given)
    if spec.model != h.model:  # the model's settings come from h.config
        raise ValueError(f"the run's config describes {spec.model.name}, not {h.model.name}")
    record = dict(
        **source,
        **spec.used,
        init=_init_json(named.items()),
        branch=dict(
            epoch=epoch,
            changed={k: spec.values[k] for k in changes},
            parent=config,
        ),
    )
    return train(
        spec.data,
        spec.model,
        h.params[epoch],
        **_train_settings(spec),
        config=record,
        val_mask=h.val_mask,
        first_epoch=_first_epoch(config) + epoch,
    )


def joined(h: History, b: History) -> History:
    """Run ``h`` up to where ``b`` branched from it, then ``b``: the branch as one run
    from ``h``'s start (its epoch k is ``h``'s k before the fork, ``b``'s k - fork after),
    to show both on one timeline. Its config is ``b``'s; ``diverged_at`` counts from
    ``h``'s start."""
    fork = b.config.get("branch", {}).get("epoch")
    if fork is None:
        raise ValueError("b is not a branch (its config has no branch)")
    if fork > h.last_epoch:
        raise ValueError(f"b branched at epoch {fork}, after h's last epoch {h.last_epoch}")

    def cat(a, c):
        out = np.concatenate([a[:fork], c])
        out.flags.writeable = False
        return out

    val = None if b.val_loss is None else cat(h.val_loss, b.val_loss)
    return replace(
        b,
        params=cat(h.params, b.params),
        loss=cat(h.loss, b.loss),
        grads=cat(h.grads, b.grads),
        diverged_at=None if b.diverged_at is None else fork + b.diverged_at,
        epochs=fork + b.epochs,
        val_loss=val,
    )


def _first_epoch(config: Mapping) -> int:
    """The epoch of the first run that a run's epoch 0 stands for (branches of branches)."""
    b = config.get("branch")
    return 0 if not b else b["epoch"] + _first_epoch(b["parent"])


# --------------------------------------------------------------------------- compare

# What a comparison keeps equal whatever varies: the points and which are held out.
SAME_DATA: tuple[str, ...] = ("points", "noise", "outliers", "seed", "validation")
# The settings a comparison can vary, in the registry's order.
VARIES: tuple[str, ...] = tuple(name for name in SETTINGS if name not in SAME_DATA)
MAX_COMPARED = 4


@dataclass(frozen=True)
class Comparison:
    """Runs from the same data that differ in one setting, ``vary``.

    Attributes:
        spec: the first run's settings (with ``losses=``: the settings given, their loss
            the suggested one); every run is measured with its loss settings.
        runs: one History per value of ``vary``, in the order given, keyed by the value
            (a loss's name, a learning rate, None for a batch of all the points...).
        vary: the setting that varies (``"loss"`` for ``compare(losses=...)``).
        specs: each run's settings, keyed as ``runs`` (None for a Comparison made by hand).
    """

    spec: RunSpec
    runs: dict
    vary: str = "loss"
    specs: Mapping | None = None

    @property
    def values(self) -> list:
        """The values of ``vary``, one per run, in order."""
        return list(self.runs)

    def table(self) -> list[dict]:
        """One row per run: final value of every metric, final parameters, epochs run
        (``comparison_rows``)."""
        return comparison_rows(self.runs, self.spec.loss_settings, vary=self.vary)

    def default_metric(self) -> str:
        """The first run's loss: what ``best`` ranks by unless told otherwise."""
        return next(iter(self.runs.values())).config["loss"]

    def best(self, by: str | None = None):
        """The value of ``vary`` whose run ends lowest on one common metric.

        Every run is measured the same way, whatever it was trained on: ``by`` is a loss
        (``"mse"``: its final value on the training points, the ``final_mse`` column) or
        ``"val_"`` and a loss (``"val_mse"``: on the held-out points). By default the
        first run's loss on the training points (with ``vary="loss"``, the first loss
        named). A run that diverged, or whose metric is not finite, is never best; ties go
        to the first. None when no run qualifies.
        """
        by = by or self.default_metric()
        column = by if by.startswith("val_") else f"final_{by}"
        if column.removeprefix("val_").removeprefix("final_") not in LOSSES:
            raise ValueError(
                f"unknown metric {by!r}; choose one of {', '.join(LOSSES)} "
                f"(or val_ and a loss, on the held-out points)"
            )
        rows = self.table()
        if column.startswith("val_") and not any(column in r for r in rows):
            raise ValueError(f"{by} needs held-out points (validation above 0)")
        best, low = None, None
        for key, row in zip(self.runs, rows, strict=True):
            value = row.get(column)
            if row["diverged_at"] is not None or value is None:
                continue
            if low is None or value < low:
                best, low = key, value
        return best


def compare_specs(spec: RunSpec, losses) -> dict[str, RunSpec]:
    """The runs of a comparison: ``spec`` once per loss (same data, start, settings)."""
    if isinstance(losses, str):
        losses = [s.strip() for s in losses.split(",") if s.strip()]
    for name in losses:
        LOSS.check(name)
    if not losses:
        raise ValueError("name at least one loss to compare")
    return {name: spec.with_loss(name) for name in dict.fromkeys(losses)}


def vary_specs(vary: str, values, settings: Mapping) -> dict:
    """The runs of ``compare(vary=..., values=...)``: ``settings`` resolved once per value.

    The values are read by the setting's ``Setting.parse`` (text too: ``"0.1"``, ``"all"``),
    duplicates dropped; 2 to ``MAX_COMPARED`` of them. Everything else is equal: the data
    and held-out points, the seed, so the start wherever the model is the same (a model of
    another size draws its own from the same seed), and the mini-batch shuffles.

    Raises:
        ValueError: a setting that cannot vary (the data's) or that no run reads (degree
            for a quadratic), the setting also given in ``settings``, too few or too many
            values, a value out of bounds, or two values that make the same run.
    """
    if vary not in SETTINGS:
        raise ValueError(f"unknown setting {vary!r} to vary; choose one of {', '.join(VARIES)}")
    if vary in SAME_DATA:
        raise ValueError(
            f"a comparison keeps the data and its held-out points equal, so {vary} cannot "
            f"vary; choose one of {', '.join(VARIES)}"
        )
    if vary in settings:
        raise ValueError(f"{vary} is what varies: give its values in values=..., not {vary}=")
    s = SETTINGS[vary]
    if values is None:
        raise ValueError(f"give the values of {vary} to compare (values=...)")
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    parsed = list(dict.fromkeys(s.parse(v) for v in values))
    if not 2 <= len(parsed) <= MAX_COMPARED:
        raise ValueError(
            f"compare takes 2 to {MAX_COMPARED} different values of {vary}, got {len(parsed)}"
        )
    specs = {v: resolve(**settings, **{vary: v}) for v in parsed}
    seen: dict = {}
    for value, spec in specs.items():
        if vary not in spec.used:
            raise ValueError(f"{vary} changes nothing here: {_readers(s, spec)}")
        key = (tuple(spec.used.items()), spec.init)
        if key in seen:
            raise ValueError(
                f"{vary} = {_show(s, seen[key])} and {_show(s, value)} make the same run "
                f"here ({spec.data.n} points)"
            )
        seen[key] = value
    return specs


def _readers(s: Setting, spec: RunSpec) -> str:
    for kind, registry in (("model", MODELS), ("loss", LOSSES), ("optimizer", OPTIMIZERS)):
        owners = [name for name, entry in registry.items() if s in entry.settings]
        if owners:
            return (
                f"only the {' or '.join(owners)} {kind} reads it "
                f"(this comparison's {kind} is {spec.values[kind]})"
            )
    return "no run reads it"


def _show(s: Setting, value) -> str:
    return s.none_label if value is None and s.none_label else f"{value}"


def comparison_rows(
    runs: Mapping[object, History], loss_settings: Mapping, vary: str = "loss"
) -> list[dict]:
    """One row per run: the value of ``vary`` (with ``vary="loss"``, the key ``loss``), the
    loss it was trained on, the epochs it ran, where it diverged, every metric of its final
    parameters on the training points (``final_l1``, ...), on the held-out points if any
    (``val_l1``, ...), and those parameters.

    Every metric is measured with the same ``loss_settings`` in every row. A metric that
    overflows float64 at the final parameters is None, as are all values of a run that was
    not finite even at its start (``epochs_run`` None, no parameters).
    """
    rows = []
    for key, h in runs.items():
        k = h.last_epoch
        row = {} if vary == "loss" else {vary: key}
        row.update(loss=key if vary == "loss" else h.config["loss"])
        row.update(epochs_run=None, diverged_at=h.diverged_at)
        row.update({f"final_{m}": None for m in LOSSES})
        held = h.val_mask
        if held.any():
            row.update({f"val_{m}": None for m in LOSSES})
        if k >= 0:
            row["epochs_run"] = k
            parts = [("final", ~held)] + ([("val", held)] if held.any() else [])
            for prefix, points in parts:
                metrics = evaluate(
                    h.model, h.params[k], h.x[points], h.y[points], **loss_settings
                ).metrics
                row.update(
                    {f"{prefix}_{m}": (v if np.isfinite(v) else None) for m, v in metrics.items()}
                )
            for i, param in enumerate(h.param_names):
                row[param] = float(h.params[k, i])
        rows.append(row)
    return rows


def compare(losses=None, *, vary: str | None = None, values=None, **settings) -> Comparison:
    """Train the same run once per value of one setting, everything else equal.

    ``compare(vary="optimizer", values=["sgd", "adam"], lr=0.05)``: one run per value of
    any setting but the data's (``VARIES``: the model and its size, the loss and its
    settings, lr, epochs, the optimizer and its settings, batch_size); values as text too
    (``"0.1,0.01"``), 2 to 4 different ones (``vary_specs``). Same data and held-out
    points, same seed: the same start where the model is the same, the same mini-batch
    shuffles. ``compare(losses="l1,l2")`` (the default, l1 and l2) is ``vary="loss"`` as
    before: one or more losses, runs keyed by the loss's name.

    Raises:
        ValueError: ``loss=`` given with ``losses`` (compare trains every loss in
            ``losses``), both ``losses`` and ``vary``, an unknown loss, or any setting
            ``fit`` or ``vary_specs`` refuses.
    """
    if vary is None:
        if values is not None:
            raise ValueError("values=... needs vary=NAME, the setting they are values of")
        if "loss" in settings:
            raise ValueError(
                "compare trains one run per loss in losses=...; it takes no loss= "
                f"(got loss={settings['loss']!r})"
            )
        spec = resolve(**settings)
        specs = compare_specs(spec, ("l1", "l2") if losses is None else losses)
        return Comparison(spec, {name: run(s) for name, s in specs.items()}, "loss", specs)
    if losses is not None:
        raise ValueError("give losses=... or vary=... and values=..., not both")
    specs = vary_specs(vary, values, settings)
    first = next(iter(specs.values()))
    return Comparison(first, {v: run(s) for v, s in specs.items()}, vary, specs)
