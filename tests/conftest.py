"""Test settings shared by the whole suite.

As Equinox does, make implicit rank promotion an error: a ``(n,)`` array meeting an
``(n, 1)`` one fails at once instead of silently broadcasting to ``(n, n)``.
"""

import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
