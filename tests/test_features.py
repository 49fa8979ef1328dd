import pytest

from learnsim import Input, MLPConfig, Output, SchemaError
from learnsim.features import FeatureSchema, wrap_angle


def schema(inputs, outputs):
    return FeatureSchema(tuple(inputs), tuple(outputs))


def test_onyx_example_orders_states_parents_first():
    s = schema(
        [
            Input("position", parent="velocity", relation="derivative"),
            Input("velocity", parent="acc", relation="derivative"),
            Input("u"),
        ],
        [Output("acc")],
    )
    assert [f.name for f in s.states] == ["velocity", "position"]
    assert [f.name for f in s.externals] == ["u"]
    assert [f.name for f in s.direct_outputs] == ["acc"]


def test_positional_name_and_dataset_feature():
    out = Output("acc", dataset_feature="acceleration")
    assert out.name == "acc" and out.column == "acceleration"
    assert Input("u").column == "u"


@pytest.mark.parametrize(
    "inputs, outputs, rule, fragment",
    [
        ([Input("a")], [Output("a")], "duplicate_name", "'a'"),
        (
            [Input("x", relation="delta")],
            [Output("y")],
            "parent_relation",
            "input 'x' has a relation without parent",
        ),
        (
            [Input("x", parent="y")],
            [Output("y")],
            "parent_relation",
            "input 'x' has a parent without relation",
        ),
        ([Input("x", parent="nope", relation="equal")], [Output("y")], "unknown_parent", "'nope'"),
        (
            [Input("u")],
            [Output("y"), Output("z", parent="u", relation="equal")],
            "output_parent_is_input",
            "output 'z'",
        ),
        (
            [Input("a", parent="b", relation="delta"), Input("b", parent="a", relation="delta")],
            [Output("y")],
            "cycle",
            "a",
        ),
        ([Input("a", parent="a", relation="delta")], [Output("y")], "cycle", "'a'"),
        (
            [Input("x", parent="y", relation="delta")],
            [Output("y", parent="z", relation="equal"), Output("z", parent="y", relation="equal")],
            "cycle",
            "->",
        ),
        (
            [Input("u")],
            [Output("y", parent="w", relation="equal"), Output("w", parent="y", relation="delta")],
            "cycle",
            "->",
        ),
        ([Input("u", scale=[1.0, 1.0])], [Output("y")], "scale_range", "input 'u'"),
        ([Input("u", scale=[2.0, 1.0])], [Output("y")], "scale_range", "[2.0, 1.0]"),
        (
            [Input("th", angle=True), Input("s", parent="th", relation="derivative")],
            [Output("y")],
            "angle_integrated",
            "'s'",
        ),
    ],
)
def test_each_rule_raises_named_error(inputs, outputs, rule, fragment):
    with pytest.raises(SchemaError) as info:
        schema(inputs, outputs)
    assert info.value.rule == rule
    assert fragment in str(info.value)


def test_no_direct_output():
    # Derived outputs must trace back to an output, so only an empty output list lacks a direct one.
    with pytest.raises(SchemaError) as info:
        schema([Input("u")], [])
    assert info.value.rule == "no_direct_output"


def test_config_reports_schema_error_through_validation():
    with pytest.raises(ValueError, match=r"\[unknown_parent\].*'ghost'"):
        MLPConfig(outputs=[Output("y")], inputs=[Input("x", parent="ghost", relation="delta")], dt=0.1)


def test_equal_child_of_angle_is_periodic():
    s = schema([Input("th", parent="th_next", relation="equal")], [Output("th_next", angle=True)])
    assert s.is_angle("th") and s.is_angle("th_next")


def test_wrap_angle_range():
    import numpy as np

    values = np.array([-7.0, -np.pi, 0.0, np.pi - 1e-9, np.pi, 7.0])
    wrapped = wrap_angle(values)
    assert np.all(wrapped >= -np.pi) and np.all(wrapped < np.pi)
    np.testing.assert_allclose(np.sin(wrapped), np.sin(values), atol=1e-12)
    np.testing.assert_allclose(np.cos(wrapped), np.cos(values), atol=1e-12)
