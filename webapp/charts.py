"""Showing prebuilt figure dicts with ``st.plotly_chart`` without re-validating them.

``st.plotly_chart`` validates a dict through ``plotly.graph_objects.Figure`` on every call
(tens of milliseconds for an animated figure), but takes a ``Figure``'s own ``to_dict()``
as already valid. Our figures are built in Plotly's schema by ``explorer.figures`` and
checked against it by the tests, so we hand Streamlit a Figure whose ``to_dict`` returns
the prebuilt dict: the rerun then costs only the JSON encoding.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st


class _Prebuilt(go.Figure):
    """A Figure that is only a carrier for an already-valid dict."""

    def __init__(self, fig: dict):  # noqa: D107 - deliberately skips Figure.__init__
        self._prebuilt = fig

    def to_dict(self) -> dict:
        return self._prebuilt


def show(fig: dict, key: str | None = None, **options):
    """Draw a figure dict from ``explorer.figures``; ``options`` go to ``st.plotly_chart``
    (``on_select``, ``selection_mode``, ``theme``) and its answer comes back."""
    return st.plotly_chart(
        _Prebuilt(fig),
        width="stretch",
        key=key,
        config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]},
        **options,
    )
