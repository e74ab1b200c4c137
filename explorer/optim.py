"""Optimizers from optax, chosen by a traced index so switching never recompiles.

Each optimizer is declared once in ``OPTIMIZERS`` with its label, words and settings, and
built from the traced learning rate and its settings (by name) inside the compiled engine.
The engine keeps the state of every optimizer in one tuple (the states are tiny) and
``lax.switch`` runs the chosen one, so all branches have the same state structure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jax
import optax

from .settings import Setting, registry


@dataclass(frozen=True)
class Optimizer:
    """One optimizer.

    Attributes:
        name: registry name (``--optimizer adam``).
        short: its name in menus and links (``SGD``, ``momentum``).
        label: its name for people.
        words: one line on what it does.
        make: ``make(lr, **settings) -> optax.GradientTransformation`` (traced values).
        settings: its own settings, passed to ``make`` by name.
    """

    name: str
    short: str
    label: str
    words: str
    make: Callable[..., optax.GradientTransformation]
    settings: tuple[Setting, ...] = ()


def _decay(name: str, label: str, default: float, help: str, **ui) -> Setting:
    return Setting(name, label, default, help, low=0, high=1, high_open=True, **ui)


OPTIMIZERS: Mapping[str, Optimizer] = registry(
    (
        Optimizer(
            "sgd",
            "SGD",
            "SGD",
            "w ← w − lr × gradient, exactly the lesson's step.",
            lambda lr: optax.sgd(lr),
        ),
        Optimizer(
            "momentum",
            "momentum",
            "SGD with momentum",
            "Keeps a running sum of past gradients (decayed by momentum) and steps along it.",
            lambda lr, momentum: optax.sgd(lr, momentum=momentum),
            (
                _decay(
                    "momentum",
                    "Momentum",
                    0.9,
                    "How much of the previous step carries into the next.",
                    ui=(0.0, 0.99, 0.01),
                ),
            ),
        ),
        Optimizer(
            "adam",
            "Adam",
            "Adam",
            "Scales each parameter's step by running averages of its gradient and squared "
            "gradient: steps of about lr whatever the gradient's size.",
            lambda lr, beta1, beta2: optax.adam(lr, b1=beta1, b2=beta2),
            (
                _decay(
                    "beta1",
                    "Adam beta1",
                    0.9,
                    "Decay of the running average of the gradient.",
                    ui=(0.0, 0.99, 0.01),
                ),
                _decay(
                    "beta2",
                    "Adam beta2",
                    0.999,
                    "Decay of the running average of the squared gradient.",
                    options=(0.9, 0.99, 0.999, 0.9999),
                ),
            ),
        ),
    )
)

OPTIMIZER_NAMES: tuple[str, ...] = tuple(OPTIMIZERS)
# Every optimizer's own settings: the engine carries them all, so switching never recompiles.
OPTIMIZER_SETTINGS: tuple[Setting, ...] = tuple(s for o in OPTIMIZERS.values() for s in o.settings)


def optimizer_index(name: str) -> int:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZER_NAMES)}")
    return OPTIMIZER_NAMES.index(name)


def build(opt: Optimizer, hyper: Mapping) -> optax.GradientTransformation:
    """``opt`` with the learning rate and its settings taken by name from ``hyper``."""
    return opt.make(hyper["lr"], **{s.name: hyper[s.name] for s in opt.settings})


def init_states(hyper: Mapping, params: jax.Array) -> tuple:
    """The state of every registered optimizer for ``params``."""
    return tuple(build(o, hyper).init(params) for o in OPTIMIZERS.values())


def switch_update(
    index: jax.Array, hyper: Mapping, grads: jax.Array, states: tuple, params: jax.Array
) -> tuple[jax.Array, tuple]:
    """One step of the optimizer chosen by ``index``: (new params, new states)."""

    def branch(i: int, opt: Optimizer):
        def run(grads, states, params):
            updates, new_state = build(opt, hyper).update(grads, states[i], params)
            return optax.apply_updates(params, updates), states[:i] + (new_state,) + states[i + 1 :]

        return run

    branches = [branch(i, o) for i, o in enumerate(OPTIMIZERS.values())]
    return jax.lax.switch(index, branches, grads, states, params)
