"""pair_names: each rule, the order they are tried in, and the cases they must refuse."""

from __future__ import annotations

import pytest

from csv_state_viewer.core.analysis.names import (
    DEVICE,
    EXACT,
    NUMBERING,
    ORDER,
    PREFIX,
    RECIPE,
    pair_names,
)


def test_exact_names_pair_in_a_order_and_the_rest_stay_one_sided() -> None:
    found = pair_names(["x", "y", "gone"], ["new", "y", "x"])
    assert found.pairs == [("x", "x"), ("y", "y")]
    assert (found.only_a, found.only_b) == (["gone"], ["new"])
    assert found.how == "names paired exactly"
    assert found.reasons == {"x": EXACT, "y": EXACT}


def test_nothing_in_common_pairs_nothing() -> None:
    found = pair_names(["alpha"], ["beta"])
    assert found.pairs == []
    assert (found.only_a, found.only_b) == (["alpha"], ["beta"])
    assert found.how == "no names paired"


def test_device_suffixes_are_ignored_after_exact_names() -> None:
    found = pair_names(
        ["dense/kernel:0", "dense/bias", "step"], ["dense/kernel", "dense/bias:0", "step"]
    )
    assert found.pairs == [
        ("dense/kernel:0", "dense/kernel"),
        ("dense/bias", "dense/bias:0"),
        ("step", "step"),
    ]
    assert found.reasons["dense/kernel:0"] == DEVICE
    assert found.reasons["step"] == EXACT
    assert found.how == "names paired exactly (1), ignoring :N device suffixes (2)"


def test_device_suffix_with_two_candidates_is_left_unpaired() -> None:
    found = pair_names(["w:0", "w:1"], ["w"])
    assert found.pairs == []
    assert found.only_b == ["w"]


def test_a_model_prefix_on_one_side_is_dropped() -> None:
    a = ["sequential/dense/kernel", "sequential/dense/bias"]
    found = pair_names(a, ["dense/kernel", "dense/bias"])
    assert found.pairs == [(a[0], "dense/kernel"), (a[1], "dense/bias")]
    assert found.how == "names paired without a leading prefix (sequential/)"
    assert set(found.reasons.values()) == {PREFIX}
    # either side may carry the prefix
    assert pair_names(["dense/kernel"], ["model/dense/kernel"]).pairs == [
        ("dense/kernel", "model/dense/kernel")
    ]


def test_the_prefix_rule_takes_the_closest_name() -> None:
    found = pair_names(["m/dense/kernel"], ["dense/kernel", "kernel"])
    assert found.pairs == [("m/dense/kernel", "dense/kernel")]
    assert found.only_b == ["kernel"]


def test_the_prefix_rule_leaves_ties_unpaired() -> None:
    # two names of A end in dense/kernel one segment away: B's name has no closest
    found = pair_names(["a/dense/kernel", "b/dense/kernel"], ["dense/kernel"])
    assert found.pairs == []
    assert found.only_a == ["a/dense/kernel", "b/dense/kernel"]
    # and the same seen from A's side
    found = pair_names(["dense/kernel"], ["a/dense/kernel", "b/dense/kernel"])
    assert found.pairs == []


def test_the_prefix_rule_matches_whole_segments_only() -> None:
    assert pair_names(["mydense/kernel"], ["dense/kernel"], "name").pairs == []


def test_keras_auto_numbering_pairs_by_position() -> None:
    a = ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    b = ["dense_2/kernel", "dense_2/bias", "dense_3/kernel", "dense_3/bias"]
    found = pair_names(a, b)
    assert found.pairs == list(zip(a, b, strict=True))
    assert set(found.reasons.values()) == {NUMBERING}
    assert "Keras auto-numbering (dense -> dense_2)" in found.how
    assert found.how.startswith("names paired by position")


def test_keras_auto_numbering_with_a_prefix_and_optimizer_names() -> None:
    a = ["sequential/dense/kernel", "sequential/dense/bias", "adam_w/iterations"]
    b = ["dense_1/kernel", "dense_1/bias", "adam_w_1/iterations"]
    found = pair_names(a, b)
    assert found.pairs == list(zip(a, b, strict=True))
    assert "and a leading prefix (sequential/)" in found.how


def test_keras_auto_numbering_refuses_when_the_normalised_order_differs() -> None:
    a = ["dense/kernel", "dense/bias"]
    b = ["dense_1/bias", "dense_1/kernel"]  # same names, other order: no guessing
    found = pair_names(a, b)
    assert found.pairs == []
    assert (found.only_a, found.only_b) == (a, b)


def test_keras_auto_numbering_refuses_other_counts_and_other_names() -> None:
    assert pair_names(["dense/kernel", "dense/bias"], ["dense_1/kernel"]).pairs == []
    assert pair_names(["dense/kernel"], ["conv_1/kernel"]).pairs == []
    # two different prefixes are not one model name
    assert pair_names(["x/k", "y/k"], ["k", "k_1"]).pairs == []


def test_keras_auto_numbering_only_in_auto_mode() -> None:
    assert pair_names(["dense/kernel"], ["dense_1/kernel"], "name").pairs == []


def test_positional_recipe_names_pair_by_their_number() -> None:
    found = pair_names(["weight_1", "weight_0"], ["dense/kernel", "dense/bias"])
    assert sorted(found.pairs) == [("weight_0", "dense/kernel"), ("weight_1", "dense/bias")]
    assert [name for name, _ in found.pairs] == ["weight_1", "weight_0"]  # A's order
    assert set(found.reasons.values()) == {RECIPE}
    assert found.how == "names paired by position (weight_0, weight_1, …)"
    found = pair_names(["dense/kernel", "dense/bias"], ["weight_0", "weight_1"])
    assert found.pairs == [("dense/kernel", "weight_0"), ("dense/bias", "weight_1")]


def test_positional_recipe_names_refuse_other_counts() -> None:
    assert pair_names(["weight_0", "weight_1"], ["dense/kernel"]).pairs == []
    assert pair_names(["weight_0", "weight_1"], ["a", "b", "c"]).pairs == []


def test_rules_apply_only_to_what_is_left() -> None:
    a = ["step", "m/dense/kernel", "weight_7"]
    b = ["step", "dense/kernel", "optimizer/lr"]
    found = pair_names(a, b)
    assert found.pairs == [
        ("step", "step"),
        ("m/dense/kernel", "dense/kernel"),
        ("weight_7", "optimizer/lr"),
    ]
    assert found.reasons == {"step": EXACT, "m/dense/kernel": PREFIX, "weight_7": RECIPE}
    assert found.how == (
        "names paired exactly (1), without a leading prefix (m/) (1), "
        "by position (weight_0, weight_1, …) (1)"
    )


def test_name_mode_uses_exact_and_prefix_rules_only() -> None:
    found = pair_names(["a:0", "m/b", "weight_0"], ["a", "b", "c"], "name")
    assert found.pairs == [("m/b", "b")]
    assert (found.only_a, found.only_b) == (["a:0", "weight_0"], ["a", "c"])


def test_order_mode_pairs_by_position_whatever_the_names() -> None:
    found = pair_names(["x", "y", "z"], ["y", "x"], "order")
    assert found.pairs == [("x", "y"), ("y", "x")]
    assert (found.only_a, found.only_b) == (["z"], [])
    assert set(found.reasons.values()) == {ORDER}
    assert found.how == "names paired by position in file order"


def test_repeated_names_take_part_once() -> None:
    found = pair_names(["x", "x"], ["x"])
    assert found.pairs == [("x", "x")]
    assert found.only_a == ["x"]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown match mode 'fuzzy'"):
        pair_names(["a"], ["a"], "fuzzy")
