"""Your own points: drawn points in a link, standardising x, and settings that work."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import fit
from explorer.csvdata import MAX_DRAWN, DataError, drawn_dataset, parse_points, points_text
from explorer.data import Dataset
from explorer.models import build_model
from explorer.suggest import badly_scaled, suggest


def test_drawn_points_round_trip_through_link_text():
    x = np.array([-1.25, 0.0, 3.5, 1234.5, -0.000123])
    y = np.array([2.0, -7.125, 1e5, 0.5, 6.02e-7])
    text = points_text(x, y)
    assert "+" not in text and " " not in text  # a URL keeps it as it is
    xs, ys = parse_points(text)
    # Four significant digits each way.
    np.testing.assert_allclose(xs, x, rtol=5e-4)
    np.testing.assert_allclose(ys, y, rtol=5e-4)
    assert text == "-1.25_2~0_-7.125~3.5_1e5~1234_0.5~-0.000123_6.02e-7"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1_2~3", "drawn point 2"),
        ("1_2~a_b", "is not x_y"),
        ("1_2e9", "within"),
        ("~".join(["1_1"] * (MAX_DRAWN + 1)), f"at most {MAX_DRAWN}"),
    ],
)
def test_bad_drawn_points_say_what_is_wrong(text, message):
    with pytest.raises(DataError, match=message):
        parse_points(text)


def test_fewer_than_two_drawn_points_cannot_be_fitted():
    assert parse_points("")[0].size == 0
    with pytest.raises(DataError, match="at least 2"):
        drawn_dataset(*parse_points("1_2"))
    assert drawn_dataset(*parse_points("1_2~3_4")).n == 2


def test_standardised_x_has_mean_0_and_spread_1():
    d = Dataset(np.arange(2000.0, 2020.0), np.arange(20.0), "years", x_label="year")
    s = d.standardised()
    assert abs(np.mean(s.x)) < 1e-12 and abs(np.std(s.x) - 1) < 1e-12
    np.testing.assert_array_equal(s.y, d.y)
    assert s.x_label == "year (standardised)"


def _ten_rows():
    # The case: a valid 10-row CSV with y about 60, where the defaults stall.
    rng = np.random.default_rng(1)
    x = np.arange(10.0)
    return Dataset(x, 60 + 3 * x + rng.normal(0, 2, 10), "ten")


def _least_squares_rmse(d: Dataset, degree: int) -> float:
    design = np.vander(d.x, degree + 1)
    coef = np.linalg.lstsq(design, d.y, rcond=None)[0]
    return float(np.sqrt(np.mean((design @ coef - d.y) ** 2)))


def test_suggested_settings_fit_a_line_to_ten_rows():
    d = _ten_rows()
    # The defaults (L1, lr 0.01, 10 epochs, random start) end far from the best line.
    stalled = fit(data=d, model="line", loss="l1", lr=0.01, epochs=10)
    s = suggest(d, model="line", loss="l2")
    h = fit(data=d, model="line", loss="l2", init=s.init, **s.values)
    best = _least_squares_rmse(d, 1)
    assert h.loss[-1] <= 1.01 * best  # within 1% of least squares (NumPy's lstsq)
    assert stalled.loss[-1] > 5 * best
    assert s.init == {"m": 0.0, "b": pytest.approx(float(np.mean(d.y)), rel=1e-12)}
    assert not s.standardise
    assert any("Learning rate" in r for r in s.reasons)


def test_years_are_standardised_and_then_fit():
    rng = np.random.default_rng(2)
    x = np.arange(2000.0, 2020.0)
    d = Dataset(x, 5 + 0.3 * (x - 2000) + rng.normal(0, 1, 20), "years")
    s = suggest(d, model="line", loss="l2")
    assert s.standardise and any("Standardise x" in r for r in s.reasons)
    z = d.standardised()
    s2 = suggest(z, model="line", loss="l2")
    assert not s2.standardise
    h = fit(data=z, model="line", loss="l2", init=s2.init, **s2.values)
    assert h.loss[-1] <= 1.01 * _least_squares_rmse(z, 1)


def test_badly_scaled_reads_the_features_condition_number():
    x = np.linspace(0, 9, 10)
    d = Dataset(x, x, "d")
    # [x², x, 1] on 0..9: a Gram condition number in the hundreds of thousands (NumPy).
    design = np.vander(x, 3)
    cond = np.linalg.cond(design.T @ design)
    assert cond > 1e4
    assert badly_scaled(d, build_model("quadratic"))
    assert not badly_scaled(d, build_model("line"))  # [x, 1] on 0..9: about 70
    assert np.linalg.cond(np.vander(x, 2).T @ np.vander(x, 2)) < 1e4


def test_a_drawn_outline_is_closed_and_walks_its_perimeter():
    from explorer.csvdata import drawn_outline
    from explorer.data import outline_at

    # A 2 x 1 rectangle drawn corner by corner: perimeter 6.
    d = drawn_outline([0, 2, 2, 0], [0, 0, 1, 1])
    np.testing.assert_allclose(d.x, [0, 2 / 6, 3 / 6, 5 / 6, 1])
    np.testing.assert_array_equal(d.y, [[0, 0], [2, 0], [2, 1], [0, 1], [0, 0]])
    # The same t as the presets' outlines use for their corners.
    np.testing.assert_allclose(outline_at(d.y[:-1], d.x), d.y, atol=1e-12)
    with pytest.raises(DataError, match="at least 3"):
        drawn_outline([0, 1], [0, 1])
    with pytest.raises(DataError, match="coincide"):
        drawn_outline([1, 1, 1], [2, 2, 2])
    h = fit(data=d, model="relu-curve", corners=4, loss="mse", lr=2.0, epochs=100)
    assert h.loss[-1] <= h.loss[0] / 5
