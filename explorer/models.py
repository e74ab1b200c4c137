"""Models: a registry of parameterised functions of one input x.

Most draw a curve y(x); the curve models (``outputs == 2``: ``relu-curve``, ``mlp-curve``,
``fourier-curve``) draw a curve in the plane, t -> (x(t), y(t)) for t in [0, 1], and
predict (n, 2): they fit the outline presets (a cat, a heart, a star). Their parameters
are named by the coordinate they draw (``x.a1``, ``y.w[3]``).

Each family is declared once in ``MODELS`` with its formula, its size settings, how it
predicts and how it draws a random start, and (for models linear in their parameters) its
features, from which least squares finds the best fit. ``build_model`` gives a ``Model``:
a family with its size fixed, frozen and hashable, so it can key a compiled engine. Its
parameters are a flat float64 vector inside the engine; ``layout`` names each entry
(``a``, ``m[2]``) so the learner sees names, and ``unflatten`` gives back a dict of named
arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import jax
import jax.numpy as jnp
import numpy as np

from .settings import Setting, registry, settings_values

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

Shapes = tuple[tuple[str, tuple[int, ...]], ...]


@dataclass(frozen=True)
class Family:
    """One kind of model, declared once.

    Attributes:
        name: registry name (``--model relu-sum``).
        words: one line for people (the formula with a few words).
        settings: its size settings (degree, relus, ...), passed by name.
        shapes: ``shapes(**size)`` -> ``((param_name, shape), ...)`` in display order.
        predict: ``predict(p, x, **size)`` with ``p`` a dict of named arrays (traceable).
        init: ``init(rng, **size)`` -> dict of named random starting values.
        formula: ``formula(**size)`` -> the formula with its size written in.
        features: for models linear in their parameters, ``features(x, **size)`` -> the
            (n, P) matrix with ``predict == features @ flat params``; None otherwise. For a
            curve model, (2n, P) with ``predict(...).reshape(-1) == features @ flat``
            (rows point by point, x then y).
        outputs: 1 for a function y(x), 2 for a curve t -> (x(t), y(t)) (predicts (n, 2)).
        breaks: for a curve with corners at fixed t, ``breaks(**size)`` -> those t values
            (the drawn curve's grid includes them, so that its corners are drawn sharp).
    """

    name: str
    words: str
    shapes: Callable[..., Shapes]
    predict: Callable[..., jax.Array]
    init: Callable[..., dict]
    formula: Callable[..., str]
    settings: tuple[Setting, ...] = ()
    features: Callable[..., np.ndarray] | None = None
    outputs: int = 1
    breaks: Callable[..., np.ndarray] | None = None


@dataclass(frozen=True)
class Model:
    """A model family with its size fixed.

    Attributes:
        name: registry name.
        shapes: ``(param_name, shape)`` in display order; ``()`` is a scalar.
        size: the size settings, e.g. ``(("degree", 3),)``.
    """

    name: str
    shapes: Shapes
    size: tuple[tuple[str, object], ...] = ()

    @property
    def family(self) -> Family:
        return MODELS[self.name]

    @property
    def formula(self) -> str:
        return self.family.formula(**dict(self.size))

    @property
    def groups(self) -> list[str]:
        """The named parameters (``m``, ``b``, ``c``), each a scalar or an array."""
        return [name for name, _ in self.shapes]

    @property
    def layout(self) -> list[str]:
        """One name per entry of the flat parameter vector (``m[0]``, ``m[1]``, ``c``)."""
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

    @property
    def outputs(self) -> int:
        """1: predicts y (n,); 2: a curve in the plane, predicts (x(t), y(t)) as (n, 2)."""
        return self.family.outputs

    def curve_grid(self, size: int) -> np.ndarray:
        """t values on which to draw a curve model: ``size`` evenly spaced on [0, 1] and
        the model's corners (``Family.breaks``), sorted."""
        grid = np.linspace(0.0, 1.0, size, dtype=np.float64)
        if self.family.breaks is not None:
            grid = np.union1d(grid, np.asarray(self.family.breaks(**dict(self.size)), np.float64))
        return grid

    @property
    def linear(self) -> bool:
        """True when the predictions are linear in the parameters (least squares applies)."""
        return self.family.features is not None

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
        """Predictions (n,) for inputs x (n,) with flat parameters (P,); (n, 2) for a
        curve model (``outputs == 2``), x then holding t."""
        return self.family.predict(self.unflatten(flat), x, **dict(self.size))

    def least_squares(self, x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """The flat parameters (P,) that minimise the squared error on (x, y), for models
        linear in their parameters (None for the others). For a curve model y is (n, 2)
        and the squared error is the squared distance (both coordinates)."""
        if not self.linear:
            return None
        design = np.asarray(self.family.features(np.asarray(x, np.float64), **dict(self.size)))
        return np.linalg.lstsq(design, np.asarray(y, np.float64).reshape(-1), rcond=None)[0]

    def init(self, seed: int, overrides: dict[str, object] | None = None) -> np.ndarray:
        """Random initial parameters from ``seed``, with explicit values taking precedence.

        Args:
            seed: seed of the NumPy generator that draws the random start.
            overrides: ``{name: value}``; ``name`` is a parameter (``a``, ``m``) or one
                entry of it (``m[1]``). A scalar value fills a whole array parameter.

        Returns:
            Flat float64 vector (P,).
        """
        params = self.family.init(np.random.default_rng(seed), **dict(self.size))
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


def _scalars(*names: str) -> Callable[..., Shapes]:
    return lambda: tuple((n, ()) for n in names)


def _powers(x, powers) -> np.ndarray:
    return np.stack([x**p for p in powers], axis=1)


DEGREE = Setting(
    "degree", "Degree", 3, "Degree of the polynomial.", low=1, high=MAX_DEGREE, whole=True
)
RELUS = Setting(
    "relus",
    "Number of ReLUs",
    2,
    "How many rectified lines are added up.",
    low=1,
    high=MAX_RELUS,
    whole=True,
)
WIDTH = Setting(
    "width",
    "Hidden units",
    8,
    "Units in the hidden layer.",
    low=1,
    high=MAX_WIDTH,
    whole=True,
    ui=(1, 16, 1),
)
ACTIVATION = Setting(
    "activation",
    "Activation",
    "relu",
    "The hidden layer's nonlinearity.",
    choices=tuple(ACTIVATIONS),
    link="act",
)

MAX_CORNERS = 64
MAX_TERMS = 32
CORNERS = Setting(
    "corners",
    "Corners (three ReLUs each)",
    32,
    "Corners of the polygon the curve draws, evenly spaced in t: three ReLUs each.",
    low=3,
    high=MAX_CORNERS,
    whole=True,
)
TERMS = Setting(
    "terms",
    "Fourier terms",
    12,
    "How many cosine and sine pairs each coordinate adds up: more terms, finer detail.",
    low=1,
    high=MAX_TERMS,
    whole=True,
)


def _xy(*names: str) -> tuple[str, ...]:
    """Each name once per coordinate: ``x.a``, ..., then ``y.a``, ..."""
    return tuple(f"{axis}.{n}" for axis in "xy" for n in names)


def _fourier_names(terms: int) -> tuple[str, ...]:
    return ("a0", *(f"{ab}{k}" for k in range(1, terms + 1) for ab in "ab"))


def _fourier_basis(t, terms: int):
    """(n, 2·terms + 1): 1, cos 2πt, sin 2πt, cos 4πt, ... (jax or NumPy alike)."""
    xp = jnp if isinstance(t, jax.Array) else np
    angle = 2 * np.pi * t[:, None] * xp.arange(1, terms + 1)[None, :]
    pairs = xp.stack([xp.cos(angle), xp.sin(angle)], axis=2).reshape(t.shape[0], 2 * terms)
    return xp.concatenate([xp.ones_like(t)[:, None], pairs], axis=1)


def _fourier_predict(p, t, terms):
    basis = _fourier_basis(t, terms)
    coords = [
        basis @ jnp.stack([p[n] for n in _xy(*_fourier_names(terms)) if n[0] == axis])
        for axis in "xy"
    ]
    return jnp.stack(coords, axis=1)


def _fourier_features(t, terms):
    # Rows point by point, x then y: the x row has the basis in x's columns, 0 in y's.
    basis = _fourier_basis(np.asarray(t, np.float64), terms)
    zero = np.zeros_like(basis)
    rows = np.stack([np.hstack([basis, zero]), np.hstack([zero, basis])], axis=1)
    return rows.reshape(-1, basis.shape[1] * 2)


def _fourier_init(rng, terms):
    # A small closed scribble: coefficient k from N(0, 0.1/k), the centre from N(0, 0.1).
    names = _fourier_names(terms)
    scale = [0.1] + [0.1 / k for k in range(1, terms + 1) for _ in "ab"]
    return {n: v for n, v in zip(_xy(*names), rng.normal(0.0, scale * 2), strict=True)}


def _tents(t, corners: int):
    """(n, corners + 1): tent i, max(1 − |corners·t − i|, 0), peaks at t = i/corners.
    Each tent is three of the lesson's ReLUs: max(u + 1, 0) − 2·max(u, 0) + max(u − 1, 0)
    with u = corners·t − i (written as one max, which is exactly 0 away from its corner)."""
    xp = jnp if isinstance(t, jax.Array) else np
    u = corners * t[:, None] - xp.arange(corners + 1)[None, :]
    return xp.maximum(1.0 - xp.abs(u), 0.0)


def _relu_curve_predict(p, t, corners):
    # Corner `corners` (at t = 1) is corner 0: the polygon closes.
    tents = _tents(t, corners)
    return jnp.stack([tents @ jnp.append(p[a], p[a][0]) for a in "xy"], axis=1)


def _relu_curve_features(t, corners):
    tents = _tents(np.asarray(t, np.float64), corners)
    own = tents[:, :corners].copy()
    own[:, 0] += tents[:, corners]  # the last tent belongs to corner 0
    zero = np.zeros_like(own)
    rows = np.stack([np.hstack([own, zero]), np.hstack([zero, own])], axis=1)
    return rows.reshape(-1, 2 * corners)


def _relu_curve_init(rng, corners):
    # A small random scribble around the origin: every corner from N(0, 0.1).
    return {"x": rng.normal(0.0, 0.1, corners), "y": rng.normal(0.0, 0.1, corners)}


def _mlp_curve_predict(p, t, width, activation):
    hidden = ACTIVATIONS[activation](t[:, None] * p["W1"][None, :] + p["b1"][None, :])
    return jnp.stack([p[f"{a}.b2"] + hidden @ p[f"{a}.W2"] for a in "xy"], axis=1)


def _mlp_curve_init(rng, width, activation):
    # As the mlp's, but the hidden units' bends (where W1·t + b1 = 0) drawn on [0, 1],
    # where t lives: W1 from N(0, 4), b1 = -W1·u with u uniform on [0, 1].
    w1 = rng.normal(0.0, 4.0, width)
    b1 = -w1 * rng.uniform(0.0, 1.0, width)
    out = {"W1": w1, "b1": b1}
    for a in "xy":
        out[f"{a}.W2"] = rng.normal(0.0, 1 / np.sqrt(width), width)
        out[f"{a}.b2"] = 0.0
    return out


MODELS: Mapping[str, Family] = registry(
    (
        Family(
            "line",
            "m·x + b",
            _scalars("m", "b"),
            lambda p, x: p["m"] * x + p["b"],
            lambda rng: dict(zip(("m", "b"), _normal(rng, 2), strict=True)),
            lambda: "m·x + b",
            features=lambda x: _powers(x, (1, 0)),
        ),
        Family(
            "quadratic",
            "a·x² + b·x + c",
            _scalars("a", "b", "c"),
            lambda p, x: p["a"] * x**2 + p["b"] * x + p["c"],
            lambda rng: dict(zip(("a", "b", "c"), _normal(rng, 3), strict=True)),
            lambda: "a·x² + b·x + c",
            features=lambda x: _powers(x, (2, 1, 0)),
        ),
        Family(
            "polynomial",
            "c0 + c1·x + … + cd·x^d",
            lambda degree: tuple((f"c{i}", ()) for i in range(degree + 1)),
            lambda p, x, degree: sum(p[f"c{i}"] * x**i for i in range(degree + 1)),
            lambda rng, degree: {f"c{i}": v for i, v in enumerate(_normal(rng, degree + 1))},
            lambda degree: " + ".join(
                ["c0", "c1·x"][: degree + 1] + [f"c{i}·x^{i}" for i in range(2, degree + 1)]
            ),
            (DEGREE,),
            features=lambda x, degree: _powers(x, range(degree + 1)),
        ),
        Family(
            "relu-sum",
            "c + Σ max(mᵢ·x + bᵢ, 0): lesson 3's rectified lines, added up",
            lambda relus: (("m", (relus,)), ("b", (relus,)), ("c", ())),
            lambda p, x, relus: (
                p["c"]
                + jnp.sum(jax.nn.relu(x[:, None] * p["m"][None, :] + p["b"][None, :]), axis=1)
            ),
            lambda rng, relus: {"m": _normal(rng, relus), "b": _normal(rng, relus), "c": 0.0},
            lambda relus: "c + Σᵢ max(mᵢ·x + bᵢ, 0)",
            (RELUS,),
        ),
        Family(
            "mlp",
            "one hidden layer: b2 + Σ W2ⱼ·act(W1ⱼ·x + b1ⱼ)",
            lambda width, activation: (
                ("W1", (width,)),
                ("b1", (width,)),
                ("W2", (width,)),
                ("b2", ()),
            ),
            lambda p, x, width, activation: (
                p["b2"]
                + ACTIVATIONS[activation](x[:, None] * p["W1"][None, :] + p["b1"][None, :])
                @ p["W2"]
            ),
            lambda rng, width, activation: {
                "W1": _normal(rng, width),
                "b1": _normal(rng, width),
                "W2": _normal(rng, width, scale=1 / np.sqrt(width)),
                "b2": 0.0,
            },
            lambda width, activation: f"b2 + Σⱼ W2ⱼ·{activation}(W1ⱼ·x + b1ⱼ)",
            (WIDTH, ACTIVATION),
        ),
        Family(
            "relu-curve",
            "a closed polygon t → (x(t), y(t)) through corners (x[i], y[i]) at t = i/corners: "
            "x(t) = Σ x[i]·tent(corners·t − i), likewise y; each tent three ReLUs: "
            "max(u + 1, 0) − 2·max(u, 0) + max(u − 1, 0)",
            lambda corners: (("x", (corners,)), ("y", (corners,))),
            _relu_curve_predict,
            _relu_curve_init,
            lambda corners: (
                f"x(t) = Σᵢ x[i]·tent({corners}t − i), likewise y(t); "
                "tent(u) = max(u + 1, 0) − 2·max(u, 0) + max(u − 1, 0)"
            ),
            (CORNERS,),
            features=_relu_curve_features,
            outputs=2,
            breaks=lambda corners: np.arange(corners + 1) / corners,
        ),
        Family(
            "mlp-curve",
            "a curve t → (x(t), y(t)): one hidden layer, two outputs: "
            "x.b2 + Σ x.W2ⱼ·act(W1ⱼ·t + b1ⱼ), likewise y",
            lambda width, activation: (
                ("W1", (width,)),
                ("b1", (width,)),
                *((n, (width,) if n.endswith("W2") else ()) for n in _xy("W2", "b2")),
            ),
            _mlp_curve_predict,
            _mlp_curve_init,
            lambda width, activation: (
                f"x(t) = x.b2 + Σⱼ x.W2ⱼ·{activation}(W1ⱼ·t + b1ⱼ), likewise y(t)"
            ),
            (WIDTH, ACTIVATION),
            outputs=2,
        ),
        Family(
            "fourier-curve",
            "a curve t → (x(t), y(t)): x.a0 + Σₖ x.aₖ·cos(2πkt) + x.bₖ·sin(2πkt), likewise y "
            "(drawing an elephant)",
            lambda terms: tuple((n, ()) for n in _xy(*_fourier_names(terms))),
            _fourier_predict,
            _fourier_init,
            lambda terms: "x(t) = x.a0 + Σₖ x.aₖ·cos(2πkt) + x.bₖ·sin(2πkt), likewise y(t)",
            (TERMS,),
            features=_fourier_features,
            outputs=2,
        ),
    )
)
# Every model's size settings (names unique across the registry: one flag each; a setting
# two families share, as mlp and mlp-curve share the width, is listed once).
SIZE_SETTINGS: tuple[Setting, ...] = tuple(
    dict.fromkeys(s for f in MODELS.values() for s in f.settings)
)


def build_model(name: str, **size) -> Model:
    """The model ``name`` with its size settings; settings it does not take are ignored,
    missing ones take their defaults.

    Raises:
        ValueError: unknown name or a size out of range.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    family = MODELS[name]
    values = settings_values(family.settings, size)
    return Model(name, family.shapes(**values), tuple(values.items()))
