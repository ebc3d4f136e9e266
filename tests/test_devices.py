"""The same analysis on the CPU and on a CUDA GPU: the calls and the maps agree.

Tolerance: probabilities within 0.01 absolute (cuDNN picks other convolution algorithms and
TF32 where allowed: 1e-3 relative per layer, compounded over 18 layers), every call the same
away from the threshold, and each label's map with a Pearson r >= 0.99 against the CPU's.
Runs where PyTorch sees a CUDA GPU (a lent one: the device tool); skipped elsewhere.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.analyze import analyze_path

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "sample_scan.jpg"

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA GPU on this machine: CPU/CUDA agreement is checked where one is lent")


def test_cpu_and_cuda_agree_within_the_stated_tolerance() -> None:
    cpu = analyze_path(SAMPLE, device="cpu")
    gpu = analyze_path(SAMPLE, device="cuda")
    assert gpu.device.startswith("cuda") and cpu.device == "cpu"
    np.testing.assert_allclose(gpu.explanation.probabilities, cpu.explanation.probabilities, atol=0.01)
    for key in cpu.labels:
        if abs(cpu.probability(key) - cpu.weights.thresholds[key]) > 0.02:
            assert gpu.is_positive(key) == cpu.is_positive(key), key
        a, b = cpu.explanation.saliency.native[key], gpu.explanation.saliency.native[key]
        assert a.shape == b.shape
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] >= 0.99, key
