"""A second yardstick for bench_browser.py: the app's own learning-rate control (a
select_slider over the same options) and one small chart."""

import streamlit as st

from explorer.registry import SETTINGS
from webapp.controls import LR_OPTIONS, label

lr = st.select_slider(
    "Learning rate",
    LR_OPTIONS,
    value=0.01,
    format_func=lambda v: label(SETTINGS["lr"], v),
    key="lr",
)
st.plotly_chart({"data": [{"type": "scatter", "y": [0, lr, 1]}]}, width="stretch")
