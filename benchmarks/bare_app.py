"""The yardstick for bench_app.py: one slider and one small chart."""

import streamlit as st

n = st.slider("n", 1, 50, 10, key="n")
st.plotly_chart({"data": [{"type": "scatter", "y": list(range(n))}]}, width="stretch")
