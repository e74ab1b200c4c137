"""``python -m explorer``: see ``explorer.cli``."""

import sys

from .cli import main
from .train import enable_compile_cache

enable_compile_cache()
sys.exit(main())
