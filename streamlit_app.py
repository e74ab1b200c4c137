"""Gradient Explorer: ``streamlit run streamlit_app.py``."""

from explorer.train import compile_in_background, enable_compile_cache
from webapp.main import main

enable_compile_cache()
compile_in_background()  # a long-lived server: a setting changed later never waits
main()
