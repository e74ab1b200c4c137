"""Target points: the preset recipes (fast.ai lesson 3, fastbook chapter 4, shapes).

Every preset is ``make(points, noise, seed) -> (x, y)`` drawn with NumPy's legacy
``RandomState`` so the course's seeded numbers come out exactly; outliers are added after
the noise so that asking for none leaves the recipe untouched.

The outline presets (``cat``, ``heart``, ``star``; ``outputs == 2``) are closed outlines
in the plane, drawn by a curve t -> (x(t), y(t)): x holds t and y the points, (n, 2), in
order around the outline (``OUTLINES``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from .settings import MAX_POINTS, MIN_POINTS, NOISE, OUTLIERS, POINTS, SEED, VALIDATION


def clean_text(text: str, limit: int = 40) -> str:
    """A name that comes from a file, on one line: printable characters only, runs of
    white space as one space, at most ``limit`` characters. Nothing else is removed:
    whatever renders it (a chart, Markdown) escapes it there."""
    kept = "".join(ch if ch.isprintable() else " " for ch in str(text))
    kept = " ".join(kept.split())
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


@dataclass(frozen=True)
class Dataset:
    """Target points for a fit.

    Attributes:
        x: inputs, float64 (n,); for an outline, the curve's parameter t.
        y: targets, float64 (n,); for an outline (``outputs == 2``), (n, 2): the points'
            x and y, in order around it.
        name: preset name or file name.
        description: one line for people.
        x_label, y_label: the columns' names (a CSV header's, or x and y).
        outliers: indices of the points the outliers setting pushed off (ascending).
    """

    x: np.ndarray
    y: np.ndarray
    name: str = "data"
    description: str = ""
    x_label: str = "x"
    y_label: str = "y"
    outliers: tuple[int, ...] = ()

    def __post_init__(self):
        x = np.asarray(self.x, np.float64).reshape(-1)
        y = np.asarray(self.y, np.float64)
        # Points in the plane (an outline) stay (n, 2); anything else is flattened.
        y = y if y.ndim == 2 and y.shape[1] == 2 else y.reshape(-1)
        if x.size != len(y):
            raise ValueError(f"x has {x.size} values but y has {y.size}")
        if not MIN_POINTS <= x.size <= MAX_POINTS:
            raise ValueError(f"need {MIN_POINTS} to {MAX_POINTS} points, got {x.size}")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("x and y must be finite numbers (no NaN or inf)")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        outliers = tuple(sorted(int(i) for i in self.outliers))
        if any(not 0 <= i < x.size for i in outliers) or len(set(outliers)) != len(outliers):
            raise ValueError(f"outliers must be distinct indices of the {x.size} points")
        object.__setattr__(self, "outliers", outliers)
        for name, limit in (("name", 60), ("description", 200), ("x_label", 40), ("y_label", 40)):
            object.__setattr__(self, name, clean_text(getattr(self, name), limit) or "data")
        x.flags.writeable = False  # shared between sessions by the app's caches
        y.flags.writeable = False

    @property
    def n(self) -> int:
        return int(self.x.size)

    @property
    def outputs(self) -> int:
        """1: targets y (n,); 2: points in the plane (n, 2), fitted by a curve model."""
        return 1 if self.y.ndim == 1 else 2

    def standardised(self) -> Dataset:
        """The same points with x replaced by (x - mean) / spread (spread: the standard
        deviation), labelled so; y unchanged. Data whose x does not vary is returned as is."""
        spread = float(np.std(self.x))
        if spread == 0:
            return self
        return replace(
            self,
            x=(self.x - np.mean(self.x)) / spread,
            x_label=f"{self.x_label} (standardised)",
            description=f"{self.description} x standardised: (x - {np.mean(self.x):.4g}) / "
            f"{spread:.4g}.".strip(),
        )


@dataclass(frozen=True)
class Preset:
    """A documented recipe for target points plus the settings that suit it; ``outputs``
    is 2 for an outline (points in the plane)."""

    name: str
    description: str
    make: Callable[[int, float, np.random.RandomState], tuple[np.ndarray, np.ndarray]]
    truth: Callable[[np.ndarray], np.ndarray]
    points: int = 20
    noise: float = 1.0
    # Suggested training settings (model, loss, lr, epochs, init, ...), by setting name;
    # read-only, checked against the settings registry (explorer.registry) at import.
    defaults: Mapping = field(default_factory=dict)
    # Fit by hand's slider range (low, high, step) for the suggested model, when the
    # course uses one (lesson 3's -1.1..3.3 by 0.1); otherwise the app chooses.
    hand_range: tuple[float, float, float] | None = None
    outputs: int = 1

    def __post_init__(self):
        frozen = {
            k: MappingProxyType(dict(v)) if isinstance(v, dict) else v
            for k, v in self.defaults.items()
        }
        object.__setattr__(self, "defaults", MappingProxyType(frozen))


def _fastai_quadratic(points, noise, rng):
    # Lesson 3: y = f(x) * (1 + N(0, 0.15)) + N(0, 1.5), multiplicative noise drawn first.
    x = np.linspace(-2, 2, points)
    mult = rng.normal(scale=noise / 10, size=x.shape)
    add = rng.normal(scale=noise, size=x.shape)
    return x, _quad(x) * (1 + mult) + add


def _quad(x):
    return 3 * x**2 + 2 * x + 1


def _roller_coaster(points, noise, rng):
    # fastbook ch. 4: speed = randn * 3 + 0.75 * (t - 9.5)**2 + 1 for t = 0..19.
    t = np.arange(points, dtype=np.float64)
    return t, rng.randn(points) * noise + _roller_truth(t)


def _roller_truth(t):
    centre = (t.size - 1) / 2
    return 0.75 * (t - centre) ** 2 + 1


def _additive(truth, low, high):
    def make(points, noise, rng):
        x = np.linspace(low, high, points)
        return x, truth(x) + rng.normal(scale=noise, size=x.shape)

    return make


def _line(x):
    return 2 * x + 1


def _bathtub(x):
    # Flat between -1 and 1, walls of slope 2: two ReLUs fit it exactly, a parabola cannot.
    return 2 * np.maximum(x - 1, 0) + 2 * np.maximum(-x - 1, 0)


# ----------------------------------------------------------------------------- outlines

# A sitting cat, drawn for this project: from the middle of the base, clockwise: the base,
# the back of the body up to the neck, the head and its two pointed ears, down the other
# side, then out along the tail (its inner edge up to its tip, its outer edge back down).
CAT = (
    (0.0, -1.0), (-0.3, -1.0), (-0.5, -0.98), (-0.6, -0.85), (-0.63, -0.6), (-0.56, -0.3),
    (-0.43, -0.05), (-0.3, 0.15), (-0.25, 0.28), (-0.33, 0.38), (-0.37, 0.52), (-0.36, 0.68),
    (-0.34, 0.76), (-0.31, 1.1), (-0.12, 0.87), (0.0, 0.89), (0.12, 0.87), (0.31, 1.1),
    (0.34, 0.76), (0.36, 0.68), (0.37, 0.52), (0.33, 0.38), (0.25, 0.28), (0.3, 0.15),
    (0.43, -0.05), (0.56, -0.3), (0.63, -0.6), (0.6, -0.84), (0.64, -0.88), (0.8, -0.82),
    (0.9, -0.68), (0.92, -0.5), (0.89, -0.3), (0.97, -0.24), (1.05, -0.42), (1.07, -0.7),
    (0.98, -0.9), (0.8, -1.0), (0.5, -1.0), (0.2, -1.0),
)  # fmt: skip


def _star(points: int = 5, outer: float = 1.0, inner: float = 0.4) -> tuple:
    """A star's corners, from the top point clockwise, tips and notches alternating."""
    angles = np.pi / 2 - np.arange(2 * points) * np.pi / points
    radius = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return tuple(zip(radius * np.cos(angles), radius * np.sin(angles), strict=True))


def _heart(corners: int = 360) -> tuple:
    """The classic heart x = 16 sin³s, y = 13 cos s − 5 cos 2s − 2 cos 3s − cos 4s, scaled
    by 1/16, from its top notch clockwise, as a polygon of ``corners`` corners."""
    s = np.arange(corners) * 2 * np.pi / corners
    x = 16 * np.sin(s) ** 3
    y = 13 * np.cos(s) - 5 * np.cos(2 * s) - 2 * np.cos(3 * s) - np.cos(4 * s)
    return tuple(zip(x / 16, y / 16, strict=True))


# The outline presets' polygons, by preset name: corners in order, the last joined to the
# first.
OUTLINES: Mapping[str, tuple] = MappingProxyType({"cat": CAT, "heart": _heart(), "star": _star()})


def outline_at(corners, t: np.ndarray) -> np.ndarray:
    """(n, 2) the points at ``t`` (n,) along the closed polygon ``corners`` (m, 2), t being
    the share of its perimeter walked from the first corner: t = 0 and t = 1 are the
    first corner; equal steps of t are equal distances along the outline."""
    c = np.asarray(corners, np.float64)
    loop = np.vstack([c, c[:1]])
    walked = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(loop, axis=0).T))])
    at = np.asarray(t, np.float64) % 1.0 * walked[-1]
    return np.stack([np.interp(at, walked, loop[:, i]) for i in (0, 1)], axis=1)


def _outline(name: str):
    def truth(t):
        return outline_at(OUTLINES[name], t)

    def make(points, noise, rng):
        # t = 0, 1/(n-1), ..., 1: n points evenly spaced along the outline, the last one
        # on the first (the outline closes); noise N(0, noise) on both coordinates, the
        # last point sharing the first's so that the drawn outline still closes.
        t = np.linspace(0.0, 1.0, points)
        y = truth(t)
        shift = rng.normal(scale=noise, size=(points - 1, 2))
        return t, y + np.vstack([shift, shift[:1]])

    return make, truth


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        p.name: p
        for p in (
            Preset(
                "fastai-quadratic",
                "Lesson 3: 3x² + 2x + 1 at 20 points on [-2, 2], multiplicative noise "
                "(scale noise/10) then additive noise (scale noise), RandomState(seed).",
                _fastai_quadratic,
                _quad,
                points=20,
                noise=1.5,
                defaults=dict(
                    model="quadratic",
                    loss="l1",
                    lr=0.01,
                    epochs=10,
                    init={"a": 1.1, "b": 1.1, "c": 1.1},
                ),
                hand_range=(-1.1, 3.3, 0.1),
            ),
            Preset(
                "roller-coaster",
                "fastbook ch. 4: speed = noise·N(0,1) + 0.75(t - 9.5)² + 1 for t = 0..19 "
                "(the book has no seed; ours is the seed knob, 42 by default).",
                _roller_coaster,
                _roller_truth,
                points=20,
                noise=3.0,
                defaults=dict(model="quadratic", loss="mse", lr=1e-5, epochs=10),
            ),
            Preset(
                "line",
                "y = 2x + 1 on [-2, 2] plus Normal(0, noise) noise.",
                _additive(_line, -2, 2),
                _line,
                points=30,
                noise=0.5,
                defaults=dict(model="line", loss="l2", lr=0.1, epochs=100),
            ),
            Preset(
                "sine",
                "y = sin(x) on [-π, π] plus Normal(0, noise) noise.",
                _additive(np.sin, -np.pi, np.pi),
                np.sin,
                points=50,
                noise=0.1,
                defaults=dict(model="mlp", loss="mse", lr=0.05, epochs=2000, optimizer="adam"),
            ),
            Preset(
                "abs",
                "y = |x| on [-2, 2] (a V) plus Normal(0, noise) noise.",
                _additive(np.abs, -2, 2),
                np.abs,
                points=30,
                noise=0.1,
                defaults=dict(model="relu-sum", relus=2, loss="l2", lr=0.05, epochs=500),
            ),
            Preset(
                "bathtub",
                "Flat at 0 on [-1, 1], slope 2 outside, on [-2.5, 2.5] plus Normal(0, noise) "
                "noise: ReLUs fit it, a parabola cannot.",
                _additive(_bathtub, -2.5, 2.5),
                _bathtub,
                points=40,
                noise=0.1,
                defaults=dict(model="relu-sum", relus=2, loss="l2", lr=0.05, epochs=1000),
            ),
            Preset(
                "overfit",
                "y = eˣ on [-1, 1] at 12 points plus Normal(0, noise) noise: a polynomial of "
                "degree 8 learns the curve, then the noise (hold some points out to see it).",
                _additive(np.exp, -1, 1),
                np.exp,
                points=12,
                noise=0.3,
                # From 0, gradient descent fits the curve's broad shape first and the noise
                # last: with validation 0.25 the held-out loss is lowest near epoch 200
                # and about 9x that by epoch 2000, while the training loss keeps falling.
                defaults=dict(
                    model="polynomial",
                    degree=8,
                    loss="mse",
                    optimizer="adam",
                    lr=0.01,
                    epochs=2000,
                    init={f"c{i}": 0.0 for i in range(9)},
                ),
            ),
            Preset(
                "cat",
                "A sitting cat's outline (two pointed ears, head, body, tail), drawn for this "
                "project: points evenly spaced around it at t = 0..1 plus Normal(0, noise) "
                "noise on x and y; fitted by a curve t → (x(t), y(t)). Enough ReLUs draw it.",
                *_outline("cat"),
                points=64,
                noise=0.0,
                defaults=dict(model="relu-curve", corners=32, loss="mse", lr=2.0, epochs=100),
                outputs=2,
            ),
            Preset(
                "heart",
                "A heart's outline (x = 16 sin³s, y = 13 cos s − 5 cos 2s − 2 cos 3s − "
                "cos 4s, over 16): points evenly spaced around it at t = 0..1 plus "
                "Normal(0, noise) noise on x and y; fitted by a curve t → (x(t), y(t)).",
                *_outline("heart"),
                points=48,
                noise=0.0,
                defaults=dict(model="fourier-curve", terms=6, loss="mse", lr=0.2, epochs=100),
                outputs=2,
            ),
            Preset(
                "star",
                "A five-pointed star's outline (tips at radius 1, notches at 0.4): points "
                "evenly spaced around it at t = 0..1 plus Normal(0, noise) noise on x and y; "
                "fitted by a curve t → (x(t), y(t)). Ten corners: relu-curve with 10 draws it exactly.",
                *_outline("star"),
                points=50,
                noise=0.0,
                defaults=dict(model="relu-curve", corners=10, loss="mse", lr=1.0, epochs=100),
                outputs=2,
            ),
        )
    }
)


# The held-out points are drawn from a stream of their own: the same seed also seeds the
# preset's noise (RandomState) and the model's random start (default_rng(seed)).
HOLD_OUT_STREAM = 1


def held_out_count(n: int, share: float) -> int:
    """How many of ``n`` points a share holds out: ``share * n`` rounded half up, at least 1
    when the share is above 0, and never all of them (at least one point is trained on)."""
    share = VALIDATION.check(share)
    if share == 0:
        return 0
    return int(min(n - 1, max(1, np.floor(share * n + 0.5))))


def hold_out(n: int, share: float, seed: int) -> np.ndarray:
    """Which points a run holds out of training.

    The first ``held_out_count(n, share)`` entries of
    ``np.random.default_rng([seed, HOLD_OUT_STREAM]).permutation(n)`` are held out: the
    same seed, points and share always hold out the same points.

    Returns:
        (n,) bool, read-only: True for a held-out point.
    """
    mask = np.zeros(n, bool)
    count = held_out_count(n, share)
    if count:
        order = np.random.default_rng([SEED.check(seed), HOLD_OUT_STREAM]).permutation(n)
        mask[order[:count]] = True
    mask.flags.writeable = False
    return mask


def make_preset(
    name: str,
    points: int | None = None,
    noise: float | None = None,
    outliers: int = 0,
    seed: int = SEED.default,
) -> Dataset:
    """Target points from a preset recipe.

    Args:
        name: a key of ``PRESETS``.
        points: number of points (the preset's own number if None).
        noise: noise level (the preset's own level if None); 0 gives the clean function.
        outliers: how many points to throw far off: each is pushed up by the range of the
            clean function (at least 1), drawn after the noise.
        seed: seed of NumPy's legacy RandomState.

    Returns:
        The Dataset.

    Raises:
        ValueError: unknown preset or a knob out of range.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    points = preset.points if points is None else points
    noise = preset.noise if noise is None else noise
    points = POINTS.check(points)
    noise = NOISE.check(noise)
    outliers = OUTLIERS.check(outliers, high=points)
    seed = SEED.check(seed)
    return _make_preset(name, points, noise, outliers, seed)


# The same checked knobs give the same points: a Dataset is immutable (read-only arrays),
# so one is shared by every caller instead of being drawn again for every run (drawing
# and checking 20 points took about 0.1 ms, a tenth of a 1,000-epoch fit).
@functools.lru_cache(maxsize=32)
def _make_preset(name: str, points: int, noise: float, outliers: int, seed: int) -> Dataset:
    preset = PRESETS[name]
    rng = np.random.RandomState(seed)
    x, y = preset.make(points, noise, rng)
    if outliers:
        clean = preset.truth(x)
        if y.ndim == 2:  # an outline's points move up, in y, by the outline's height
            clean, y = clean[:, 1], y.copy()
            column = y[:, 1]  # a view: pushing it pushes y
        else:
            y = column = y.copy()
        push = max(float(np.ptp(clean)), 1.0)
        idx = rng.choice(x.size, size=outliers, replace=False)
        column[idx] += push
        return Dataset(x, y, name, preset.description, outliers=tuple(idx.tolist()))
    return Dataset(x, y, name, preset.description)
