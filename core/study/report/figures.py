"""The report's pictures: the grid-r box plot and the model-vs-readers scatter per label
(matplotlib figures, as PNG), and report.pdf (the tables as text pages, then the plots)."""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.study.report.table import (
    ALL_READERS,
    MODEL,
    MODEL_READERS,
    READER_PAIRS,
    StudyTable,
    _pooled,
)
from core.study.report.words import (
    PAPER_R,
    PAPER_SOURCE,
    PER_IMAGE_SHOWN,
    counts_table,
    paper_table,
    per_image_table,
    summary_table,
    title,
)


def _box_figure(table: StudyTable, label: str) -> Any:
    from matplotlib.figure import Figure

    groups = [c for c in table.comparisons(label) if c not in (ALL_READERS, MODEL_READERS)]
    data = [(c, table.values(label, c, "pearson_grid")) for c in groups]
    data = [(c, v) for c, v in data if v]
    fig = Figure(figsize=(max(5.0, 1.1 * len(data) + 2), 4.2), layout="constrained")
    ax = fig.subplots()
    colours = ["#7b3fa0" if c.startswith(f"{MODEL} vs ") else "#3a7d44" for c, _ in data]
    parts = ax.boxplot([v for _, v in data], showfliers=False, patch_artist=True,
                       medianprops={"color": "black"})
    for patch, colour in zip(parts["boxes"], colours):
        patch.set(facecolor=colour, alpha=0.35)
    rng = np.random.default_rng(0)
    for i, ((_, v), colour) in enumerate(zip(data, colours), start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(v)), v, s=12, color=colour, zorder=3)
    ax.set_xticks(range(1, len(data) + 1), [c for c, _ in data], rotation=25, ha="right", fontsize=8)
    ax.axhline(0, color="#999", lw=0.6)
    if label in PAPER_R:
        ax.axhline(PAPER_R[label][0], color="#c0392b", ls="--", lw=1, label=f"paper r {PAPER_R[label][0]:.2f}")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("grid r (lead × 0.2 s cells)")
    ax.set_title(f"{label}: grid r per image — model (purple) and readers (green)"
                 + (" — simulated readers" if table.study.simulated_readers else ""), fontsize=9)
    return fig


def _scatter_figure(table: StudyTable, label: str) -> Any:
    from matplotlib.figure import Figure

    dice = _pooled(table.rows, table.study.readers, label, READER_PAIRS, "dice")
    grid = _pooled(table.rows, table.study.readers, label, MODEL_READERS, "pearson_grid")
    images = [im for im in dice if im in grid]
    fig = Figure(figsize=(5.2, 4.4), layout="constrained")
    ax = fig.subplots()
    ax.scatter([dice[im] for im in images], [grid[im] for im in images], s=22, color="#7b3fa0")
    if len(images) <= 15:  # few enough to name
        for im in images:
            ax.annotate(Path(im).stem, (dice[im], grid[im]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="#999", lw=0.6)
    ax.set_xlabel("readers' agreement: Dice, mean over pairs")
    ax.set_ylabel("model vs readers: grid r, mean over readers")
    ax.set_title(f"{label}: per image, the model's agreement against the readers' own"
                 + ("\n(simulated readers)" if table.study.simulated_readers else ""), fontsize=9)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return buf.getvalue()


def _text_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*map(str, r)) for r in rows]


def _text_pages(pdf: Any, heading: str, lines: Sequence[str], per_page: int = 58) -> None:
    from matplotlib.figure import Figure

    width = max((len(x) for x in lines), default=80)
    size = float(np.clip(1000 / max(width, 1), 4.0, 8.0))  # fit an A4 landscape page's width
    for start in range(0, max(len(lines), 1), per_page):
        fig = Figure(figsize=(11.69, 8.27))
        fig.text(0.04, 0.96, heading + (" (continued)" if start else ""), fontsize=11, weight="bold", va="top")
        fig.text(0.04, 0.92, "\n".join(lines[start:start + per_page]), family="monospace", fontsize=size, va="top")
        pdf.savefig(fig)


def _pdf(table: StudyTable, figures: Sequence[Any]) -> bytes:
    from matplotlib.backends.backend_pdf import PdfPages

    st = table.study
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title(table), "Creator": "ECG-AIO Review"}) as pdf:
        notes = [f"{r}: {n}" for r, n in st.reader_notes.items()]
        head = ([*notes, ""] if notes else []) + ["The network against the readers, beside the readers' own agreement", ""]
        tail = ["", *_wrap(f"Paper: {PAPER_SOURCE}."), ""] + _text_lines(*counts_table(table))
        _text_pages(pdf, title(table), head + _text_lines(*paper_table(table)) + tail)
        for fig in figures:
            pdf.savefig(fig)
        for label in st.labels:
            _text_pages(pdf, f"{title(table)} — every metric, {label}", _text_lines(*summary_table(table, label)))
        _text_pages(pdf, f"{title(table)} — per image", _text_lines(*per_image_table(table, PER_IMAGE_SHOWN)))
    return buf.getvalue()


def _wrap(text: str, width: int = 140) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)
