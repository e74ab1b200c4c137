"""Models: a registry of parameterised functions of one input x.

A ``Model`` is frozen and hashable, so it can key a compiled engine. Its parameters are a
flat float64 vector inside the engine; ``layout`` names each entry (``a``, ``m[2]``) so the
learner sees names, and ``unflatten`` gives back a dict of named arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS: Mapping[str, Callable[[jax.Array], jax.Array]] = MappingProxyType(
    {
        "relu": jax.nn.relu,
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
    }
)

MAX_DEGREE = 8
MAX_RELUS = 16
MAX_WIDTH = 64


@dataclass(frozen=True)
class Model:
    """A model family with its size fixed.

    Attributes:
        name: registry name.
        shapes: ``(param_name, shape)`` in display order; ``()`` is a scalar.
        size: the size settings, e.g. ``(("degree", 3),)``.
    """

    name: str
    shapes: tuple[tuple[str, tuple[int, ...]], ...]
    size: tuple[tuple[str, object], ...] = ()
    formula: str = field(default="", compare=False)

    @property
    def param_names(self) -> list[str]:
        return [name for name, _ in self.shapes]

    @property
    def layout(self) -> list[str]:
        """One name per entry of the flat parameter vector."""
        out = []
        for name, shape in self.shapes:
            if shape == ():
                out.append(name)
            else:
                out.extend(f"{name}[{i}]" for i in range(int(np.prod(shape))))
        return out

    @property
    def n_params(self) -> int:
        return len(self.layout)

    def unflatten(self, flat):
        """Flat vector (P,) -> dict of named arrays (works on NumPy and traced arrays)."""
        out, start = {}, 0
        for name, shape in self.shapes:
            n = int(np.prod(shape))
            out[name] = flat[start : start + n].reshape(shape)
            start += n
        return out

    def flatten(self, params: dict) -> np.ndarray:
        """Dict of named values -> flat float64 vector (P,)."""
        return np.concatenate(
            [np.asarray(params[name], np.float64).reshape(-1) for name, _ in self.shapes]
        ).astype(np.float64)

    def predict(self, flat: jax.Array, x: jax.Array) -> jax.Array:
        """Predictions (n,) for inputs x (n,) with flat parameters (P,)."""
        return _PREDICT[self.name](self, self.unflatten(flat), x)

    def init(self, seed: int, overrides: dict[str, object] | None = None) -> np.ndarray:
        """Random initial parameters from ``seed``, with explicit values taking precedence.

        Args:
            seed: seed of the NumPy generator that draws the random start.
            overrides: ``{name: value}``; ``name`` is a parameter (``a``, ``m``) or one
                entry of it (``m[1]``). A scalar value fills a whole array parameter.

        Returns:
            Flat float64 vector (P,).
        """
        params = _INIT[self.name](self, np.random.default_rng(seed))
        params = {
            k: np.array(v, np.float64).reshape(dict(self.shapes)[k]) for k, v in params.items()
        }
        for key, value in (overrides or {}).items():
            name, index = _split_entry(key)
            if name not in params:
                raise ValueError(
                    f"{self.name} has no parameter {name!r}; its parameters are "
                    f"{', '.join(self.layout)}"
                )
            value = np.asarray(value, np.float64)
            if not np.all(np.isfinite(value)):
                raise ValueError(f"initial value of {key} must be finite")
            if index is None:
                try:
                    params[name][...] = value
                except ValueError:
                    raise ValueError(
                        f"initial value of {name} must have shape {params[name].shape}"
                    ) from None
            else:
                if params[name].ndim != 1 or not 0 <= index < params[name].shape[0]:
                    raise ValueError(f"{key} is not an entry of {self.name}'s parameters")
                params[name][index] = value
        return self.flatten(params)

    def option(self, key: str):
        return dict(self.size)[key]


def _split_entry(key: str) -> tuple[str, int | None]:
    if key.endswith("]") and "[" in key:
        name, _, rest = key.partition("[")
        try:
            return name, int(rest[:-1])
        except ValueError:
            raise ValueError(f"bad parameter entry {key!r}") from None
    return key, None


def _normal(rng: np.random.Generator, *shape, scale: float = 1.0) -> np.ndarray:
    return rng.normal(0.0, scale, size=shape)


_PREDICT: Mapping[str, Callable] = MappingProxyType(
    {
        "line": lambda m, p, x: p["m"] * x + p["b"],
        "quadratic": lambda m, p, x: p["a"] * x**2 + p["b"] * x + p["c"],
        "polynomial": lambda m, p, x: sum(p[f"c{i}"] * x**i for i in range(m.option("degree") + 1)),
        "relu-sum": lambda m, p, x: (
            p["c"] + jnp.sum(jax.nn.relu(x[:, None] * p["m"][None, :] + p["b"][None, :]), axis=1)
        ),
        "mlp": lambda m, p, x: (
            p["b2"]
            + ACTIVATIONS[m.option("activation")](x[:, None] * p["W1"][None, :] + p["b1"][None, :])
            @ p["W2"]
        ),
    }
)

_INIT: Mapping[str, Callable] = MappingProxyType(
    {
        "line": lambda m, rng: dict(zip(("m", "b"), _normal(rng, 2), strict=True)),
        "quadratic": lambda m, rng: dict(zip(("a", "b", "c"), _normal(rng, 3), strict=True)),
        "polynomial": lambda m, rng: {
            f"c{i}": v for i, v in enumerate(_normal(rng, m.option("degree") + 1))
        },
        "relu-sum": lambda m, rng: {
            "m": _normal(rng, m.option("relus")),
            "b": _normal(rng, m.option("relus")),
            "c": 0.0,
        },
        "mlp": lambda m, rng: {
            "W1": _normal(rng, m.option("width")),
            "b1": _normal(rng, m.option("width")),
            "W2": _normal(rng, m.option("width"), scale=1 / np.sqrt(m.option("width"))),
            "b2": 0.0,
        },
    }
)


def _build_line() -> Model:
    return Model("line", (("m", ()), ("b", ())), (), "m·x + b")


def _build_quadratic() -> Model:
    return Model("quadratic", (("a", ()), ("b", ()), ("c", ())), (), "a·x² + b·x + c")


def _build_polynomial(degree: int = 3) -> Model:
    degree = _check_int("degree", degree, 1, MAX_DEGREE)
    shapes = tuple((f"c{i}", ()) for i in range(degree + 1))
    return Model("polynomial", shapes, (("degree", degree),), "c0 + c1·x + … + cd·x^d")


def _build_relu_sum(relus: int = 2) -> Model:
    relus = _check_int("relus", relus, 1, MAX_RELUS)
    shapes = (("m", (relus,)), ("b", (relus,)), ("c", ()))
    return Model("relu-sum", shapes, (("relus", relus),), "c + Σᵢ max(mᵢ·x + bᵢ, 0)")


def _build_mlp(width: int = 8, activation: str = "relu") -> Model:
    width = _check_int("width", width, 1, MAX_WIDTH)
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    shapes = (("W1", (width,)), ("b1", (width,)), ("W2", (width,)), ("b2", ()))
    return Model(
        "mlp",
        shapes,
        (("width", width), ("activation", activation)),
        f"b2 + Σⱼ W2ⱼ·{activation}(W1ⱼ·x + b1ⱼ)",
    )


def _check_int(name: str, value, low: int, high: int) -> int:
    try:
        ivalue = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if isinstance(value, bool) or ivalue != value or not low <= ivalue <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return ivalue


# name -> (builder, the size options it takes)
MODELS: Mapping[str, tuple[Callable[..., Model], tuple[str, ...]]] = MappingProxyType(
    {
        "line": (_build_line, ()),
        "quadratic": (_build_quadratic, ()),
        "polynomial": (_build_polynomial, ("degree",)),
        "relu-sum": (_build_relu_sum, ("relus",)),
        "mlp": (_build_mlp, ("width", "activation")),
    }
)


def build_model(name: str, **size) -> Model:
    """The model ``name`` with its size options; options it does not take are ignored.

    Raises:
        ValueError: unknown name or a size out of range.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    builder, options = MODELS[name]
    return builder(**{k: v for k, v in size.items() if k in options and v is not None})
