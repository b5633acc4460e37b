"""Exact types for binary COPY: a float becomes the numeric the text path would have stored."""

import numpy as np
import polars as pl

from ysh_assets.io_managers.binary_copy import _as_numeric, exact_frame

NUMERIC = pl.Decimal(14, 3)


def _through_text(values: pl.Series) -> list:
    """The numerics the text path stores: the shortest decimal text, rounded half away from zero."""
    return pl.DataFrame({"x": values}).select(_as_numeric("x", NUMERIC, values.dtype))["x"].to_list()


def test_floats_with_few_decimals_cast_directly_to_the_same_numerics():
    rng = np.random.default_rng(3)
    units = rng.integers(-(10**14) + 1, 10**14, 200_000)
    published = pl.Series("x", np.concatenate([units / 1000, units[:1000] // 10 / 100, [0.3, 1.005, 32.5, 2.675]]))
    published = published.append(pl.Series("x", [None], dtype=pl.Float64))
    assert exact_frame(pl.DataFrame({"x": published}), {"x": NUMERIC})["x"].to_list() == _through_text(published)


def test_one_value_with_more_decimals_sends_the_batch_through_the_rounding_path():
    values = pl.Series("x", [32.5, -0.0005, 1.0005, 0.1 + 0.2, 12.3455])
    stored = exact_frame(pl.DataFrame({"x": values}), {"x": NUMERIC})["x"].cast(pl.String).to_list()
    assert stored == ["32.500", "-0.001", "1.001", "0.300", "12.346"]
