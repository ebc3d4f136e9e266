"""Write docs/model_card.md from resources/model_card.json (and docs/evaluation.json when present).

    python scripts/write_model_card.py
"""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    card = json.loads((ROOT / "resources" / "model_card.json").read_text())
    t = card["training"]
    lines = [
        f"# Model card: {card['name']} {card['version']}", "",
        f"File `resources/{card['file']}` (safetensors, sha256 `{card['sha256']}`); the card the app reads is "
        "`resources/model_card.json` — loading refuses a file whose checksum, labels or tensors differ.", "",
        "## Intended use", "", card["intended_use"], "",
        "## Network", "",
        f"ResNet18 topology (BasicBlock × [2, 2, 2, 2]), width {card['net']['width']} "
        f"(stages {', '.join(str(card['net']['width'] * m) for m in (1, 2, 4, 8))} channels), "
        f"input {card['input']['height']} × {card['input']['width']} RGB letterboxed on white, "
        f"normalised with mean {card['input']['mean']} and std {card['input']['std']}. Heads: 8 sigmoid labels "
        f"({', '.join(card['labels'])}), a signal decoder that reads each printed panel back in mV at "
        f"{card['net']['decoder_fs']:.0f} Hz ({card['net']['decoder_window_s']:g}-s windows of the image and the stride-4 map, "
        "resampled along the panel's quadrilateral: the page geometry tells it where the panels are), "
        "a domain classifier behind a gradient-reversal layer (training only).", "",
        "## Training", "",
        f"- Data: {t['data']}.",
        f"- Amount: {t['pages_rendered']} pages rendered on the fly in batches of {t['recipe']['batch']}, "
        f"{t['optimiser_steps']} optimiser steps (each rendered batch is used once fresh and "
        f"{t['recipe']['reuse'] - 1} more times from a replay ring of {t['recipe']['replay_pages']} pages), "
        f"{t['time_s'] / 60:.1f} min on {t['machine']}; the shipped weights are the moving average "
        f"(decay {t['recipe']['ema']}) of the network's weights.",
        *(f"- {note}" for note in t.get("notes", [])),
        *([f"- Signal decoder: {d['what']}, on {d['windows']} panel windows of {d['pages']} training pages "
           f"(rendered like the training loop's, all four domains), {d['steps']} steps of {d['batch_windows']} "
           f"windows, {d['time_s'] / 60:.0f} min on {d['machine']}: `{d['command']}`."]
          if (d := t.get("decoder_fit")) else []),
        f"- Recipe: `configs/train_gpu.json` (AdamW, lr {t['recipe']['lr']}, warm-up then cosine by time; "
        f"losses: masked BCE + {t['recipe']['signal_weight']} × masked smooth-L1 on printed samples + "
        f"{t['recipe']['domain_weight']} × domain cross-entropy through gradient reversal, λ ramped 0 → 1).",
        "- Never trained on evidence masks, saliency or any attribution target; never on the `eval` split.", "",
        "## Decision thresholds (chosen on `val`)", "",
        "| " + " | ".join(card["labels"]) + " |", "|---" * len(card["labels"]) + "|",
        "| " + " | ".join(f"{card['thresholds'][k]:.3f}" for k in card["labels"]) + " |", "",
        card["metrics"].get("thresholds_chosen", "The highest F1 per label on `val`."), "",
        "## Validation (`val`: held-out train records in 4 domains + simulated pages)", "",
        f"Macro AUROC {card['metrics']['val']['macro_auroc']:.3f} over {card['metrics']['val']['n_pages']} pages. "
        "Test-set figures with confidence intervals: [evaluation/report.md](evaluation/report.md).", "",
        "## Known limits", "", *(f"- {x}" for x in card["limits"]), "",
    ]
    (ROOT / "docs" / "model_card.md").write_text("\n".join(lines))
    print("docs/model_card.md")


if __name__ == "__main__":
    main()
