"""Registration of the formats the core reads and writes without TensorFlow."""

from __future__ import annotations

import os

from csv_state_viewer.core.csvstate import open_csv_state
from csv_state_viewer.core.csvwrite import save_csv_state
from csv_state_viewer.core.npzstate import ZIP_MAGIC, open_npz_state, save_npz_state
from csv_state_viewer.core.registry import Format, register_format


def _sniff_csv(path: str, head: bytes) -> bool:
    """CSV is the text fallback: it also answers empty and binary files with a clear reason."""
    return os.path.isfile(path) and not head.startswith(ZIP_MAGIC)


def _sniff_npz(path: str, head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC) and path.lower().endswith(".npz")


def register_all() -> None:
    register_format(
        Format(
            name="csv",
            description="CSV training state (tensor_name,tensor_data,tensor_metadata)",
            extensions=(".csv", ".csv.gz"),
            sniff=_sniff_csv,
            open=open_csv_state,
            save=save_csv_state,
            save_options=("encoding",),
            fallback=True,
        )
    )
    register_format(
        Format(
            name="npz",
            description="NumPy .npz archive of named arrays",
            extensions=(".npz",),
            sniff=_sniff_npz,
            open=open_npz_state,
            save=save_npz_state,
        )
    )
