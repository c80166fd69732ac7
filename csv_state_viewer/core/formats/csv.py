"""The CSV training-state format (``tensor_name,tensor_data,tensor_metadata``)."""

from __future__ import annotations

import os

from csv_state_viewer.core.csv.csvstate import open_csv_state
from csv_state_viewer.core.csv.csvwrite import save_csv_state
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.formats.npz import ZIP_MAGIC


def _sniff(path: str, head: bytes) -> bool:
    """CSV is the text fallback: it also answers empty and binary files with a clear reason."""
    return os.path.isfile(path) and not head.startswith(ZIP_MAGIC)


FORMAT = Format(
    name="csv",
    description="CSV training state (tensor_name,tensor_data,tensor_metadata)",
    label="CSV training state",
    extensions=(".csv", ".csv.gz"),
    sniff=_sniff,
    open=open_csv_state,
    open_options=("decode_ahead",),  # load_state's: decode each tensor as it is indexed
    save=save_csv_state,
    save_options=("encoding",),
    variants=(
        ("CSV (decimal text)", {"encoding": "text"}),
        ("CSV (base64 of the bytes)", {"encoding": "base64"}),
    ),
    fallback=True,
)
