"""Gradient Explorer: ``streamlit run streamlit_app.py``."""

from webapp.main import main

main()
