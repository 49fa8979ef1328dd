"""GPT-style causal decoder whose tokens are time steps (NeRD-style "mixed input" dynamics model).

Each time step's token is the sum of per-input linear encoders (one per input feature; an angle input's
encoder reads its (sin, cos) pair) plus a learned position embedding. A stack of pre-norm causal
self-attention blocks follows, and an MLP head reads the last token.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from learnsim.models.config import ModelConfigBase


class TransformerConfig(ModelConfigBase):
    """Causal transformer over the window; n_embd must be divisible by n_head."""

    type: Literal["transformer"] = "transformer"
    n_layer: int = Field(default=2, ge=1, le=48, description="Number of transformer blocks.")
    n_head: int = Field(default=4, ge=1, le=64, description="Attention heads per block.")
    n_embd: int = Field(default=64, ge=1, le=8192, description="Token (embedding) width.")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout in attention and MLPs.")
    bias: bool = Field(default=True, description="Use biases in linear layers and layer norms.")

    @model_validator(mode="after")
    def _heads_divide_width(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        return self


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, C / n_head)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.proj(y))


class Block(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        # The sum of per-input linear encoders equals one linear map over the concatenated per-step
        # features (its weight is the column-block concatenation of the encoders), so it is stored as one.
        self.encode = nn.Linear(config.n_network_inputs, config.n_embd, bias=config.bias)
        self.position = nn.Embedding(config.sequence_length, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.head = nn.Sequential(
            nn.Linear(config.n_embd, config.n_embd, bias=config.bias),
            nn.GELU(),
            nn.Linear(config.n_embd, config.n_direct_outputs, bias=config.bias),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: (B, T, F) -> tokens (B, T, n_embd) -> last token -> (B, n_out)
        x = self.drop(self.encode(z) + self.position.weight[: z.shape[1]])
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x[:, -1]))
