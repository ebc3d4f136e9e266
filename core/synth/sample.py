"""A 10-s 12-lead ECG signal with its labels and where the evidence for each label lies."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.labels import LABELS, LEADS


@dataclass(frozen=True)
class Evidence:
    """One stretch of one lead that shows a label's defining feature (times in s)."""

    lead: str
    t0_s: float
    t1_s: float

    def to_json(self) -> dict[str, Any]:
        return {"lead": self.lead, "t0_s": round(self.t0_s, 4), "t1_s": round(self.t1_s, 4)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Evidence":
        return cls(d["lead"], float(d["t0_s"]), float(d["t1_s"]))


@dataclass(frozen=True)
class EcgSample:
    """A 12-lead ECG ready to print.

    signals: (n, 12) float32 mV, columns in ``core.labels.LEADS`` order. fs: Hz.
    labels: {label: 1 | 0 | None} for every key of ``core.labels.LABELS`` (None = unknown).
    evidence: {label: intervals} for present labels whose evidence is known; a present label
    missing here means its evidence could not be derived (never a guess).
    source: {'kind': 'sim' | 'record', 'record': id or None, 'params': {...}}.
    """

    signals: np.ndarray
    fs: float
    labels: dict[str, int | None]
    evidence: dict[str, tuple[Evidence, ...]] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.signals.ndim != 2 or self.signals.shape[1] != len(LEADS):
            raise ValueError(f"signals must be (n, 12), got {self.signals.shape}")
        if set(self.labels) != set(LABELS):
            raise ValueError("labels must name every label key exactly once")

    @property
    def duration_s(self) -> float:
        return self.signals.shape[0] / self.fs

    def lead(self, name: str) -> np.ndarray:
        """One lead's samples (mV)."""
        return self.signals[:, LEADS.index(name)]
