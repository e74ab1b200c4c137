"""Gradient Explorer: ``streamlit run streamlit_app.py``."""

from explorer.train import enable_compile_cache
from webapp.main import main

enable_compile_cache()
main()
