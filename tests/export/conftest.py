"""Models for the export tests: every exportable family over schemas covering every relation kind, derived
outputs and angle features, with weights scaled down so 200-step free runs stay bounded."""

from __future__ import annotations

import pytest
import torch

from learnsim import Input, Output
from learnsim.data.examples import example_features
from learnsim.models import model_from_config, parse_model_config


def relations_schema() -> dict:
    """delta and equal relations, a derived output (its previous value is carried), a direct angle output."""
    return {
        "outputs": [
            Output("dx"),
            Output("x_out", parent="dx", relation="delta"),
            Output("phi", angle=True),
        ],
        "inputs": [
            Input("x", parent="x_out", relation="equal"),
            Input("phi_in", parent="phi", relation="equal", angle=True),
            Input("u"),
        ],
    }


def narx_schema() -> dict:
    """The output's change predicted and fed back through 'delta' (Silverbox's form), for increments."""
    return {"outputs": [Output("dy")], "inputs": [Input("y", parent="dy", relation="delta"), Input("u")]}


SCHEMAS = {
    "derivative": lambda: example_features("oscillator"),
    "angles": lambda: example_features("arm"),
    "delta_equal_derived": relations_schema,
    "narx": narx_schema,
}
FAMILIES = {
    "mlp": {"type": "mlp", "hidden_size": 16},
    "mlp-silu_relu": {"type": "mlp", "hidden_size": 16, "activation": "silu_relu"},
    "mlp-affine": {"type": "mlp", "hidden_size": 16, "control_affine": True},
    "mlp-increments": {"type": "mlp", "hidden_size": 16, "increments": True},
    "mlp-clip": {"type": "mlp", "hidden_size": 16, "extrapolation": "clip"},
    "mlp-rigid": {"type": "mlp", "hidden_size": 16, "rigid_body": True, "extrapolation": "clip"},
    "gru": {"type": "rnn", "rnn_type": "GRU", "hidden_size": 8},
    "lstm": {"type": "rnn", "rnn_type": "LSTM", "hidden_size": 8},
    "rnn": {"type": "rnn", "rnn_type": "RNN", "hidden_size": 8},
    "transformer": {"type": "transformer", "n_layer": 1, "n_head": 2, "n_embd": 16},
    "linear": {"type": "linear"},
}


# Weights scaled so that 200-step free runs stay bounded and outputs are not negligible: a network with a
# linear skip (MLP, linear) feeds its states back through it and needs small weights; the others do not.
WEIGHT_SCALE = {"rnn": 0.3, "transformer": 0.3}


def build(family: str, schema: str, seed: int = 0):
    torch.manual_seed(seed)
    features = SCHEMAS[schema]()
    config = parse_model_config({**FAMILIES[family], **features, "dt": 0.01, "sequence_length": 6})
    model = model_from_config(config).eval()
    with torch.no_grad():
        for name, parameter in model.network.named_parameters():  # small, unbiased: no drift in 200 steps
            parameter.mul_(0.0 if name.endswith("bias") else WEIGHT_SCALE.get(config.type, 0.03))
        if config.type == "mlp" and config.increments:
            model.network.step_gain.fill_(3.0)  # as set_statistics would: the export must carry it
        if config.type == "mlp" and config.extrapolation == "clip":  # a range the free runs leave, and
            model.network.low.fill_(-0.05)  # hidden layers at their initial scale, so that the clamp shows
            model.network.high.fill_(0.05)  # in the outputs (1e-3 to 0.2 against the unclamped network)
            for layer in model.network.layers[:-1:2]:
                layer.weight.mul_(100.0)
        if config.type == "mlp" and config.rigid_body:  # coefficients at their initial scale: the term shows
            model.network.rigid.coefficients[-1].weight.mul_(100.0)
        # normalisation as a trained model has it, not the identity: an export that skipped it would differ
        generator = torch.Generator().manual_seed(seed + 1)
        for scaler in (model.input_scaler, model.output_scaler):
            scaler.offset.copy_(torch.randn(scaler.offset.shape, generator=generator) * 0.3)
            scaler.scale.copy_(torch.rand(scaler.scale.shape, generator=generator) + 0.5)
        model.output_scaler.offset.zero_()  # an output offset is a constant drift of every delta integrator
    return model


# Increments need a 'delta' input, which only the narx schema has; the others are checked on the rest. A
# rigid-body term needs a velocity fed from a predicted output, which the narx and relations schemas lack.
CASES = [
    (f, s)
    for f in FAMILIES
    for s in SCHEMAS
    if (f == "mlp-increments") == (s == "narx") and (f != "mlp-rigid" or s in ("derivative", "angles"))
] + [("mlp", "narx")]


@pytest.fixture
def stored_model(isolated_home):
    from learnsim.store.models import save_model

    model = build("mlp", "angles")
    meta = save_model("arm", model, metrics={"test/rollout_score": 0.5}, lineage={"dataset": "arm"})
    return model, meta
