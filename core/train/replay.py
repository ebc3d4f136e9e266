"""A ring of recent training pages kept on the training device, to take more than one
optimiser step per rendered page when rendering (CPU) is slower than learning (GPU).

Each fresh batch is used once as it arrives; the extra steps draw random batches from the
ring. The ring is not checkpointed: a resumed run starts with it empty.
"""
from __future__ import annotations

import torch


class ReplayRing:
    """Up to ``capacity`` examples (dicts of tensors with a leading batch dimension) on ``device``."""

    def __init__(self, capacity: int, device: torch.device, seed: int) -> None:
        self.capacity, self.device = capacity, device
        self.store: dict[str, torch.Tensor] = {}
        self.filled = 0
        self.head = 0
        self.generator = torch.Generator(device="cpu").manual_seed(seed)

    def add(self, batch: dict[str, torch.Tensor]) -> None:
        """Store a batch, overwriting the oldest examples once full."""
        n = next(iter(batch.values())).shape[0]
        if not self.store:
            self.store = {k: torch.empty((self.capacity, *v.shape[1:]), dtype=v.dtype, device=self.device)
                          for k, v in batch.items()}
        idx = (self.head + torch.arange(n)) % self.capacity
        for k, v in batch.items():
            self.store[k][idx.to(self.device)] = v.to(self.device)
        self.head = (self.head + n) % self.capacity
        self.filled = min(self.filled + n, self.capacity)

    def sample(self, n: int) -> dict[str, torch.Tensor]:
        """``n`` stored examples drawn uniformly at random (with replacement)."""
        if self.filled == 0:
            raise ValueError("the replay ring is empty")
        idx = torch.randint(self.filled, (n,), generator=self.generator).to(self.device)
        return {k: v[idx] for k, v in self.store.items()}
