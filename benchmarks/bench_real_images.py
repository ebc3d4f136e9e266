"""The shipped network on every shared real ECG image: its calls, whether the page was read,
whether a call was withheld, and how much of the attribution lies on the printed leads.

    .venv/bin/python benchmarks/bench_real_images.py [--doc docs/real_images.md]

For the ECG-Paper-1K phone photographs (printed PTB-XL records) the calls are checked against
their PTB-XL superclass statements (``SOURCES.csv``): on a NORM record no AF, AFL, PVC, PAC,
IAVB, LBBB or RBBB call may be made, and SR should be called. "On the leads" is the share of
the headline label's attribution inside the printed lead panels the page reader found
(``core.review.document.off_leads_share``), only where it found them. The images carry no
other diagnosis: the rest is what the network says, reported as it is.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FINDINGS = ("AF", "AFL", "PVC", "PAC", "IAVB", "LBBB", "RBBB")


def statements(notes: str) -> tuple[str, ...] | None:
    """The PTB-XL superclasses an ECG-Paper-1K photo's notes give, or None."""
    found = re.search(r"PTB-XL superclass labels: ([A-Z, ]+);", notes)
    return None if found is None else tuple(s.strip() for s in found.group(1).split(",") if s.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=Path, default=None, help="also write the tables to this Markdown file")
    args = parser.parse_args()

    from core.analyze import analyze_path
    from core.io.records import data_dir
    from core.review.document import off_leads_share

    folder = data_dir() / "images"
    if not (folder / "SOURCES.csv").is_file():
        raise SystemExit(f"the shared real images are not at {folder} (set ECG_AIO_DATA)")
    with open(folder / "SOURCES.csv", newline="", encoding="utf-8") as handle:
        sources = {row["file"]: row for row in csv.DictReader(handle)}
    rows, on_leads, paper1k = [], [], []
    for name in sorted(sources):
        path = folder / name
        if not path.is_file():
            continue
        a = analyze_path(path, device="cpu")
        g = a.geometry
        read = g is not None and bool(g.panels)
        head = a.headline()
        off = off_leads_share(a.explanation.saliency[head], g) if read else None
        share = None if off is None else 1.0 - off
        calls = "withheld" if a.withheld else ", ".join(f"{k} {a.probability(k):.2f}" for k in a.positives()) or "none"
        truth = statements(sources[name].get("notes", ""))
        verdict = ""
        if truth is not None:
            wrong = [k for k in a.positives() if k in FINDINGS]
            if a.withheld:
                verdict = "withheld"
            elif "NORM" in truth:
                verdict = "right" if not wrong and a.is_positive("SR") else \
                    f"wrong ({', '.join(wrong) or 'SR not called'})"
            else:
                verdict = "no rhythm finding to check" if not wrong else f"unconfirmed: {', '.join(wrong)}"
            paper1k.append((name, truth, verdict, bool(wrong), a.is_positive("SR")))
        if read and not a.withheld and share is not None:
            on_leads.append(share)
        rows.append(f"| {name} | {sources[name]['kind']} | {'yes, ' + (g.layout or 'layout unknown') if read else 'no'} | "
                    f"{calls} | {head} | {'—' if share is None else f'{100 * share:.0f} %'} | "
                    f"{'/'.join(truth) if truth else '—'} | {verdict or '—'} |")
        print(rows[-1], flush=True)

    photos = [n for n in sources if sources[n]["kind"] == "photo" and (folder / n).is_file()]
    withheld = [r for r in rows if "| withheld |" in r and "| photo |" in r]
    norm = [p for p in paper1k if "NORM" in p[1]]
    kept = [p for p in norm if p[2] != "withheld"]
    lines = [
        "| image | kind | page read (layout) | calls at the card's thresholds | headline | headline's attribution on the leads | PTB-XL | check |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"- Real photographs withheld: {len(withheld)} of {len(photos)} (target: at most 1 in 10).",
        f"- ECG-Paper-1K photographs of NORM records called right (SR, no rhythm or conduction finding): "
        f"{sum(p[2] == 'right' for p in norm)} of {len(norm)}; a false rhythm or conduction finding on "
        f"{sum(p[3] for p in kept)}, SR called on {sum(p[4] for p in kept)}, withheld on {len(norm) - len(kept)}.",
        f"- Pages read and not withheld with ≥ 70 % of the headline's attribution on the leads: "
        f"{sum(s >= 0.7 for s in on_leads)} of {len(on_leads)} (median {100 * sorted(on_leads)[len(on_leads) // 2]:.0f} %)."
        if on_leads else "- No page was read.",
    ]
    print("\n".join(lines[-3:]))
    if args.doc is not None:
        args.doc.write_text("# The shipped network on the shared real images\n\n"
                            "Made by `python benchmarks/bench_real_images.py --doc docs/real_images.md` "
                            "(the shipped weights, CPU). " + (__doc__ or "").split("\n\n", 2)[1].replace("\n", " ")
                            + "\n\n" + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
