"""Draw what the shipped signal decoder reads off two held-out simulated pages (docs/images/decoder_example.png).

For a scanned and a photographed page (full resolution, as a user would open them), the
printed lead II rhythm strip and lead V1 are shown three ways: the signal the page was printed
from, the decoder's reading where the true geometry puts the panels, and its reading where the
page reader (core.page) found them, as `ecg-aio analyze` does. SNR as in core.train.metrics.

    python scripts/make_decoder_example.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.explain import explain  # noqa: E402
from core.labels import LEADS  # noqa: E402
from core.model.weights import load_model  # noqa: E402
from core.page import detect_geometry  # noqa: E402
from core.synth.pages import SynthOptions, make_page  # noqa: E402
from core.train.evaluate import EVAL_SIM_SEED  # noqa: E402
from core.train.metrics import snr_db  # noqa: E402
from core.train.targets import decoder_signals, printed_mask  # noqa: E402

OUT = ROOT / "docs" / "images" / "decoder_example.png"
SHOWN = (("II", 0.0, 10.0), ("V1", 5.0, 7.5))


def main() -> None:
    model, weights = load_model()
    net = model.config
    fig, axes = plt.subplots(4, 1, figsize=(12, 10), constrained_layout=True)
    for row, domain in enumerate(("scan", "photo")):
        page = make_page(SynthOptions(n=1, seed=EVAL_SIM_SEED + 7, domain=domain, source="sim", dpi=150), 0)
        truth, known = decoder_signals(page.sample, net), printed_mask(page.geometry, net)
        read = detect_geometry(page.image)
        readings = {"true panels": explain(model, weights.input, page.image, [], geometry=page.geometry).signals,
                    "panels the page reader found": explain(model, weights.input, page.image, [],
                                                            geometry=read.geometry).signals}
        t = np.arange(net.n_samples) / net.decoder_fs
        for k, (lead, t0, t1) in enumerate(SHOWN):
            ax = axes[2 * row + k]
            i = LEADS.index(lead)
            sel = (t >= t0) & (t < t1) & (known[i] > 0)
            ax.plot(t[sel], truth[i, sel] - truth[i, sel].mean(), "k", lw=1.2, label="printed signal")
            for (name, sig), colour in zip(readings.items(), ("tab:blue", "tab:orange")):
                s = np.nan_to_num(sig[i])
                snr = snr_db(truth[None, i:i + 1, sel], s[None, None, sel], known[None, i:i + 1, sel])[0]
                ax.plot(t[sel], s[sel] - s[sel].mean(), color=colour, lw=1, label=f"decoded, {name} ({snr:.1f} dB)")
            ax.set_title(f"{domain} page ({page.image.shape[1]} × {page.image.shape[0]} px, "
                         f"layout {page.geometry.layout}, reader: {read.geometry.layout if read.geometry else 'none'})"
                         f" — lead {lead}", fontsize=10)
            ax.set_ylabel("mV")
            ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("record time (s)")
    fig.savefig(OUT, dpi=80)
    print(OUT.relative_to(ROOT))


if __name__ == "__main__":
    main()
