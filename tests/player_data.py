"""Reading what the app sends its browser player (AppTest sees the component's data)."""

from __future__ import annotations

import json

import numpy as np
from streamlit.testing.v1 import AppTest

from explorer.figures import unpack


def player(at: AppTest, key: str = "train_player") -> dict:
    """The data of the player mounted with ``key``, its runs' arrays unpacked:
    ``params``/``grads`` (K, P), ``loss`` (K,), ``frame_epochs`` (F,), ``frame_preds`` (F, G)."""
    for el in at.get("bidi_component"):
        if el.proto.component_name == "gx_player" and el.proto.id.endswith(key):
            data = json.loads(el.proto.json)
            for r in data["runs"]:
                p = len(r["names"])
                for name in ("params", "grads"):
                    r[name] = unpack(r[name]).reshape(-1, p)
                r["loss"] = unpack(r["loss"])
                r["frame_epochs"] = unpack(r["frame_epochs"])
                r["frame_preds"] = unpack(r["frame_preds"]).reshape(len(r["frame_epochs"]), -1)
            return data
    raise AssertionError(f"no player {key}")


def has_player(at: AppTest, key: str = "train_player") -> bool:
    try:
        player(at, key)
    except AssertionError:
        return False
    return True


def same(a, b) -> bool:
    """Exactly the engine's numbers (the player shows them; nothing is rounded on the way)."""
    return np.array_equal(np.asarray(a, np.float64), np.asarray(b, np.float64))
