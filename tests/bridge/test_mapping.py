"""Mapping rules on plain descriptions (no TensorFlow needed)."""

from __future__ import annotations

import pytest

from csv_state_viewer.bridge.mapping import (
    MATCHED,
    MISSING,
    SHAPE_MISMATCH,
    UNUSED,
    WRONG_OPTIMIZER,
    Slot,
    plan,
)

MODEL = [
    Slot("mlp/hidden/kernel", (8, 16), "float32"),
    Slot("mlp/hidden/bias", (16,), "float32"),
    Slot("mlp/out/kernel", (16, 3), "float32"),
    Slot("mlp/out/bias", (3,), "float32"),
]


def _adam(owner: str, shape: tuple[int, ...]) -> list[Slot]:
    flat = owner.replace("/", "_")
    return [
        Slot(f"adam/{flat}_{kind}", shape, "float32", "optimizer", owner, kind, optimizer="Adam")
        for kind in ("momentum", "velocity")
    ]


OPTIMIZER = [
    Slot("adam/iteration", (), "int64", "optimizer", scalar="iteration", optimizer="Adam"),
    Slot(
        "adam/learning_rate", (), "float32", "optimizer", scalar="learning_rate", optimizer="Adam"
    ),
] + [s for m in MODEL for s in _adam(m.name, m.shape)]


def statuses(report: object) -> dict[str | None, str]:
    return {row.state_name or row.target: row.status for row in report.rows}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "names",
    [
        ["mlp/hidden/kernel", "mlp/hidden/bias", "mlp/out/kernel", "mlp/out/bias"],
        ["hidden/kernel", "hidden/bias", "out/kernel", "out/bias"],  # without the model prefix
        ["hidden/kernel:0", "hidden/bias:0", "out/kernel:0", "out/bias:0"],  # Keras 2
        ["mlp/out/bias", "mlp/hidden/bias", "mlp/out/kernel", "mlp/hidden/kernel"],  # reordered
    ],
)
def test_names_match_across_conventions(names: list[str]) -> None:
    shapes = {"hidden/kernel": (8, 16), "hidden/bias": (16,), "out/kernel": (16, 3)}
    state = [
        Slot(n, shapes.get(n.split(":")[0].removeprefix("mlp/"), (3,)), "float32") for n in names
    ]
    report = plan(state, MODEL, None)
    assert report.ok, report.rows
    assert report.match == "name"
    pairs = {row.state_name: row.target for row in report.rows}
    for name in names:
        assert pairs[name] == "mlp/" + name.split(":")[0].removeprefix("mlp/")


def test_positional_names_match_by_order_when_every_shape_agrees() -> None:
    # Written in shuffled row order: weight_N's number, not the row order, gives the slot.
    state = [Slot(f"weight_{i}", MODEL[i].shape, "float32") for i in (2, 0, 3, 1)]
    report = plan(state, MODEL, None)
    assert report.match == "order"
    assert report.ok
    assert {r.state_name: r.target for r in report.rows} == {
        f"weight_{i}": MODEL[i].name for i in range(4)
    }


def test_positional_state_of_another_architecture_is_refused_with_every_problem() -> None:
    state = [Slot("weight_0", (8, 16), "float32"), Slot("weight_1", (15,), "float32")]
    report = plan(state, MODEL, None)
    assert statuses(report) == {
        "weight_0": MATCHED,
        "weight_1": SHAPE_MISMATCH,
        "mlp/out/kernel": MISSING,
        "mlp/out/bias": MISSING,
    }
    assert not report.ok


def test_unknown_and_ambiguous_names_are_unused_not_guessed() -> None:
    model = [Slot("a/dense/kernel", (2, 2), "float32"), Slot("b/dense/kernel", (2, 2), "float32")]
    state = [Slot("dense/kernel", (2, 2), "float32"), Slot("conv/kernel", (3,), "float32")]
    report = plan(state, model, None)
    assert statuses(report) == {
        "dense/kernel": UNUSED,
        "conv/kernel": UNUSED,
        "a/dense/kernel": MISSING,
        "b/dense/kernel": MISSING,
    }


def test_optimizer_slots_follow_their_variable_across_naming_conventions() -> None:
    # A TF1-style state: different paths, slots named m/v, linked by metadata.
    weights = [Slot(m.name.removeprefix("mlp/"), m.shape, "float32") for m in MODEL]
    slots = [
        Slot(
            f"{w.name}/Adam{'_1' if kind == 'v' else ''}",
            w.shape,
            "float32",
            "optimizer",
            w.name,
            kind,
        )
        for w in weights
        for kind in ("m", "v")
    ]
    scalars = [
        Slot("beta1_power", (), "float32", "optimizer", scalar="beta1_power"),
        Slot("global_step/iterations", (), "int64", "optimizer"),
    ]
    report = plan(weights + slots + scalars, MODEL, OPTIMIZER)
    got = {r.state_name: r.target for r in report.rows if r.status == MATCHED}
    assert got["hidden/kernel/Adam"] == "adam/mlp_hidden_kernel_momentum"
    assert got["hidden/kernel/Adam_1"] == "adam/mlp_hidden_kernel_velocity"
    assert got["out/bias/Adam_1"] == "adam/mlp_out_bias_velocity"
    assert got["global_step/iterations"] == "adam/iteration"
    assert statuses(report)["beta1_power"] == UNUSED
    assert statuses(report)["adam/learning_rate"] == MISSING


def test_same_paths_match_directly_and_a_full_state_is_ok() -> None:
    report = plan(MODEL + OPTIMIZER, MODEL, OPTIMIZER)
    assert report.ok
    assert len(report.matched()) == len(MODEL) + len(OPTIMIZER)


def test_a_state_without_optimizer_variables_is_noted_not_refused() -> None:
    report = plan(MODEL, MODEL, OPTIMIZER)
    assert report.ok
    assert any("optimizer starts fresh" in note for note in report.notes)


def test_another_optimizer_kind_is_a_problem() -> None:
    sgd = [
        Slot(
            "sgd/mlp_hidden_kernel_momentum",
            (8, 16),
            "float32",
            "optimizer",
            "mlp/hidden/kernel",
            "momentum",
            optimizer="SGD",
        )
    ]
    report = plan(MODEL + sgd, MODEL, OPTIMIZER, optimizer_name="Adam")
    assert statuses(report)["sgd/mlp_hidden_kernel_momentum"] == WRONG_OPTIMIZER
    assert not report.ok


def test_weights_only_leaves_optimizer_tensors_out_with_a_note() -> None:
    report = plan(MODEL + OPTIMIZER, MODEL, None)
    assert report.ok
    assert len(report.rows) == len(MODEL)
    assert any(f"{len(OPTIMIZER)} optimizer tensors" in note for note in report.notes)


def test_bookkeeping_tensors_are_ignored_with_a_note() -> None:
    counter = Slot("save_counter", (), "int64", "checkpoint")
    report = plan([*MODEL, counter], MODEL, None)
    assert report.ok
    assert any("save_counter" in note for note in report.notes)


def test_bad_match_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="match must be one of"):
        plan(MODEL, MODEL, None, match="fuzzy")


def test_a_loaded_model_without_the_prefix_still_matches_by_name() -> None:
    loaded = [Slot(m.name.removeprefix("mlp/"), m.shape, m.dtype) for m in MODEL]
    report = plan(MODEL, loaded, None)
    assert report.ok
    assert {r.state_name: r.target for r in report.rows} == {
        m.name: m.name.removeprefix("mlp/") for m in MODEL
    }


def test_exact_names_win_over_prefix_stripped_ones() -> None:
    model = [Slot("dense/kernel", (2,), "float32"), Slot("outer/dense/kernel", (3,), "float32")]
    state = [Slot("outer/dense/kernel", (3,), "float32"), Slot("dense/kernel", (2,), "float32")]
    report = plan(state, model, None)
    assert report.ok
    assert {r.state_name: r.target for r in report.rows} == {
        "outer/dense/kernel": "outer/dense/kernel",
        "dense/kernel": "dense/kernel",
    }


CONV = [Slot("cnn/conv/kernel", (3, 3, 1, 4), "float32"), Slot("cnn/conv/bias", (4,), "float32")]


def test_names_unlike_any_variable_match_by_position_with_reshapes_reported() -> None:
    """A folder of np.savetxt files: stems for names, conv kernels flattened to 2-D."""
    state = [Slot("layer_0", (9, 4), "float32"), Slot("layer_1", (4,), "float32")]
    report = plan(state, CONV, None)
    assert report.match == "order" and report.ok
    assert "matched by position" in report.notes[0]
    kernel = report.rows[0]
    assert (kernel.state_name, kernel.target) == ("layer_0", "cnn/conv/kernel")
    assert kernel.how == "position, reshaped [9, 4] -> [3, 3, 1, 4]"
    assert report.rows[1].how == "position"


def test_a_reshape_needs_the_same_element_count_and_matching_by_position() -> None:
    wrong_size = plan([Slot("layer_0", (8, 4), "float32"), Slot("b", (4,), "float32")], CONV, None)
    assert wrong_size.rows[0].status == SHAPE_MISMATCH
    by_name = plan([Slot("conv/kernel", (9, 4), "float32")], CONV, None, match="name")
    assert by_name.rows[0].status == SHAPE_MISMATCH  # names never reshape


def numbered(slots: list[Slot], suffix: str = "_1") -> list[Slot]:
    """The same model built a second time in one session: every layer auto-numbered."""
    return [
        Slot(
            "/".join(part + suffix for part in s.name.split("/")[:-1])
            + "/"
            + s.name.split("/")[-1],
            s.shape,
            s.dtype,
        )
        for s in slots
    ]


def test_auto_numbered_names_match_by_position_when_the_sequences_agree() -> None:
    report = plan(MODEL, numbered(MODEL), None)
    assert report.ok and report.match == "order"
    assert report.notes[0].startswith("names differ only by Keras auto-numbering")
    assert "hidden -> hidden_1" in report.notes[0] and "mlp -> mlp_1" in report.notes[0]
    assert (report.rows[0].state_name, report.rows[0].target) == (
        "mlp/hidden/kernel",
        "mlp_1/hidden_1/kernel",
    )


def test_auto_numbering_never_pairs_sequences_that_differ() -> None:
    swapped = numbered([MODEL[1], MODEL[0], *MODEL[2:]])  # same names, another order
    report = plan(MODEL, swapped, None)
    assert report.match == "name" and not report.ok
    other_shape = numbered([Slot(MODEL[0].name, (8, 17), "float32"), *MODEL[1:]])
    assert not plan(MODEL, other_shape, None).ok
