"""The Streamlit shell around ``explorer``: it reads widgets, calls the core, shows results."""
