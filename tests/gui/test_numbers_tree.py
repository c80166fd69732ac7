"""The tree counts model parameters apart from optimizer state, as Keras does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from csv_state_viewer.core.analysis.tree import build_tree, totals
from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.gui.treefilter import TensorFilterProxy
from csv_state_viewer.gui.treemodel import (
    HEADERS,
    NODE_ROLE,
    OPTIMIZER,
    PARAMETERS,
    SORT_ROLE,
    TensorTreeModel,
)

from .conftest import SAMPLES

MLP_PARAMETERS = 8_320 + 8_256 + 650  # Keras's model.count_params() of the sample MLP
MLP_OPTIMIZER = 2 * MLP_PARAMETERS + 2  # Adam's m and v, iteration, learning_rate


def test_scope_and_file_rows_count_parameters_and_optimizer_state_apart(qapp: object) -> None:
    with open_state(SAMPLES / "mlp_adam.csv") as state:
        model = TensorTreeModel()
        root = build_tree(state, "mlp_adam.csv")
        model.add_root(root)
        assert HEADERS[PARAMETERS] == "Parameters" and HEADERS[OPTIMIZER] == "Optimizer state"
        kernel = root.find("sequential/dense/kernel")
        assert kernel is not None and kernel.parent is not None
        dense = kernel.parent
        assert model.index_of(dense, PARAMETERS).data() == "8,320"
        assert model.index_of(dense, OPTIMIZER).data() == "16,640"
        assert model.index_of(root, PARAMETERS).data() == f"{MLP_PARAMETERS:,}"
        assert model.index_of(root, OPTIMIZER).data() == f"{MLP_OPTIMIZER:,}"
        assert model.index_of(root, PARAMETERS).data(SORT_ROLE) == MLP_PARAMETERS
        # a weight counts under Parameters, its slot under Optimizer state
        assert model.index_of(kernel, PARAMETERS).data() == "8,192"
        assert model.index_of(kernel, OPTIMIZER).data() == ""
        momentum = kernel.children[0]
        assert model.index_of(momentum, PARAMETERS).data() == ""
        assert model.index_of(momentum, OPTIMIZER).data() == "8,192"
        counts = totals(root)
        assert (counts.parameter_tensors, counts.optimizer_tensors) == (6, 14)


def test_recipe_files_without_roles_are_told_by_name(tmp_path: Path) -> None:
    """No metadata roles: tensors under an optimizer's scope are optimizer state."""
    tensors = {
        "dense/kernel": np.ones((4, 3), np.float32),
        "dense/bias": np.zeros(3, np.float32),
        "adam/dense_kernel_m": np.ones((4, 3), np.float32),
        "adam/iteration": np.array(7, np.int64),
        "global_step": np.array(7, np.int64),
    }
    save_state(tmp_path / "r.csv", tensors)
    with open_state(tmp_path / "r.csv") as state:
        counts = totals(build_tree(state))
        assert (counts.parameters, counts.optimizer_state, counts.other) == (15, 13, 1)


def test_sorting_a_count_column_is_numeric(qapp: object) -> None:
    with open_state(SAMPLES / "mlp_adam.csv") as state:
        model = TensorTreeModel()
        root = build_tree(state, "mlp_adam.csv")
        model.add_root(root)
        proxy = TensorFilterProxy()
        proxy.setSourceModel(model)
        proxy.setSortRole(SORT_ROLE)
        proxy.sort(OPTIMIZER, Qt.SortOrder.DescendingOrder)
        scope = proxy.index(0, 0, proxy.index(0, 0))
        # slots hang under their variables: "sequential" holds 34,452, "adam" 2 (as text
        # "2" would sort above "34,452")
        assert scope.data(NODE_ROLE).label == "sequential"
