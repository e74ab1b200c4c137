"""Gradient Explorer: ``streamlit run streamlit_app.py``."""

from webapp.cache import limit_heap_growth

limit_heap_growth()  # before the first large allocation: a long-lived server's memory

from explorer.train import compile_in_background, enable_compile_cache  # noqa: E402
from webapp.main import main  # noqa: E402

enable_compile_cache()
compile_in_background()  # a long-lived server: a setting changed later never waits
main()
