"""Optimizers from optax, chosen by a traced index so switching never recompiles.

Each optimizer is built from the traced hyperparameters inside the compiled engine. The
engine keeps the state of every optimizer in one tuple (the states are tiny) and
``lax.switch`` runs the chosen one, so all branches have the same state structure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import jax
import optax


class Hyper(NamedTuple):
    """Traced optimizer and loss settings (float64 scalars inside the engine)."""

    lr: jax.Array
    momentum: jax.Array
    beta1: jax.Array
    beta2: jax.Array
    huber_delta: jax.Array


@dataclass(frozen=True)
class OptimizerInfo:
    name: str
    label: str
    words: str
    make: Callable[[Hyper], optax.GradientTransformation]
    settings: tuple[str, ...]  # which Hyper fields it reads besides lr


OPTIMIZERS: Mapping[str, OptimizerInfo] = MappingProxyType(
    {
        o.name: o
        for o in (
            OptimizerInfo(
                "sgd",
                "SGD",
                "w ← w − lr × gradient, exactly the lesson's step.",
                lambda h: optax.sgd(h.lr),
                (),
            ),
            OptimizerInfo(
                "momentum",
                "SGD with momentum",
                "Keeps a running sum of past gradients (decayed by momentum) and steps along it.",
                lambda h: optax.sgd(h.lr, momentum=h.momentum),
                ("momentum",),
            ),
            OptimizerInfo(
                "adam",
                "Adam",
                "Scales each parameter's step by running averages of its gradient and squared "
                "gradient: steps of about lr whatever the gradient's size.",
                lambda h: optax.adam(h.lr, b1=h.beta1, b2=h.beta2),
                ("beta1", "beta2"),
            ),
        )
    }
)

OPTIMIZER_NAMES: tuple[str, ...] = tuple(OPTIMIZERS)


def optimizer_index(name: str) -> int:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZER_NAMES)}")
    return OPTIMIZER_NAMES.index(name)


def init_states(hyper: Hyper, params: jax.Array) -> tuple:
    """The state of every registered optimizer for ``params``."""
    return tuple(o.make(hyper).init(params) for o in OPTIMIZERS.values())


def switch_update(
    index: jax.Array, hyper: Hyper, grads: jax.Array, states: tuple, params: jax.Array
) -> tuple[jax.Array, tuple]:
    """One step of the optimizer chosen by ``index``: (new params, new states)."""

    def branch(i: int, opt: OptimizerInfo):
        def run(grads, states, params):
            updates, new_state = opt.make(hyper).update(grads, states[i], params)
            return optax.apply_updates(params, updates), states[:i] + (new_state,) + states[i + 1 :]

        return run

    branches = [branch(i, o) for i, o in enumerate(OPTIMIZERS.values())]
    return jax.lax.switch(index, branches, grads, states, params)
