"""Gradient reversal for domain-adversarial training (Ganin & Lempitsky, DANN).

The domain classifier sits behind ``grl``: it learns to tell scans from photos, while the
reversed gradient pushes the encoder towards features that cannot tell them apart.
"""
from __future__ import annotations

import math

import torch


class GradReverse(torch.autograd.Function):
    """Identity on the way forward; multiplies the gradient by ``-lam`` on the way back."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:  # type: ignore[override]
        ctx.lam = float(lam)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.lam * grad, None


def grl(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Return ``x`` unchanged; its gradient is reversed and scaled by ``lam`` (>= 0)."""
    return GradReverse.apply(x, lam)


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """DANN schedule ``2 / (1 + exp(-gamma * p)) - 1`` for training progress ``p`` in [0, 1].

    0 at the start (the domain loss cannot wreck an untrained encoder), close to 1 at the end.
    ``progress`` outside [0, 1] is clipped.
    """
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0
