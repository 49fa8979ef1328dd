"""Recurrent simulator (RNN, LSTM or GRU) over the history window; the last hidden state feeds a linear head."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from learnsim.models.config import ModelConfigBase

RNN_TYPES = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


class RNNConfig(ModelConfigBase):
    """Recurrent simulator run over the window each step (stateless between steps, like the MLP)."""

    type: Literal["rnn"] = "rnn"
    rnn_type: Literal["RNN", "LSTM", "GRU"] = Field(default="GRU", description="Recurrent cell.")
    hidden_layers: int = Field(default=2, ge=1, le=16, description="Stacked recurrent layers.")
    hidden_size: int = Field(default=64, ge=1, le=8192, description="Hidden state width.")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout between recurrent layers.")
    bias: bool = Field(default=True, description="Use biases.")


class RNN(nn.Module):
    def __init__(self, config: RNNConfig):
        super().__init__()
        self.rnn = RNN_TYPES[config.rnn_type](
            input_size=config.n_network_inputs,
            hidden_size=config.hidden_size,
            num_layers=config.hidden_layers,
            bias=config.bias,
            batch_first=True,
            dropout=config.dropout if config.hidden_layers > 1 else 0.0,
        )
        self.head = nn.Linear(config.hidden_size, config.n_direct_outputs, bias=config.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: (B, L, F) -> hidden sequence (B, L, H); the last step's hidden state predicts (B, n_out)
        hidden, _ = self.rnn(z)
        return self.head(hidden[:, -1])
