"""The CSV weight layouts people write besides the recipe's, each a registered format.

``matrix`` (one ``np.savetxt``/pandas matrix per file), ``long`` (one value per row),
``rows`` (name, shape, values per row), ``folder`` (a folder, or several files, of
per-tensor files as one state). What they share — how a dtype is decided from decimal
text, how a file that is none of them is described — lives in :mod:`.values` and
:mod:`.describe`.
"""
