"""``python -m explorer``: see ``explorer.cli``."""

import sys

from .cli import main

sys.exit(main())
