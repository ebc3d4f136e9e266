"""The diagnostic labels, the 12 leads and their printed orders: the one place that names them.

Order matters: it is the order of the network's outputs, of the weights' metadata and of
every label column in files. Clinical definitions: ECG_FACTS.md (shared with the project).
"""
from __future__ import annotations

from dataclasses import dataclass

LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)
ALL_LEADS = LEADS  # every lead that "PVC/PAC evidence in every lead printed at that moment" means
PREMATURE_RR = 0.85  # a beat is premature (a PVC or PAC) when its RR is under 85 % of the median RR

# Printed lead orders (ECG_FACTS.md "Paper"; the layouts themselves: core.synth.paper). 3x4 pages
# print the limb order in columns 1-2 and the precordial in columns 3-4, three leads per column;
# 6x2 pairs them row by row; 12x1 prints limb then precordial, one lead per row.
STANDARD_LIMB: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF")
CABRERA_LIMB: tuple[str, ...] = ("aVL", "I", "aVR", "II", "aVF", "III")  # aVR printed inverted (-aVR)
PRECORDIAL: tuple[str, ...] = ("V1", "V2", "V3", "V4", "V5", "V6")
DEFAULT_RHYTHM: dict[str, tuple[str, ...]] = {  # per layout: full-length rhythm strips, a row each
    "3x4": (), "3x4+1": ("II",), "3x4+3": ("V1", "II", "V5"), "6x2": (), "12x1": (),
}


def lead_sign(layout: str | None, lead: str) -> float:
    """+1, or -1 for the aVR panel of a Cabrera layout (printed as -aVR): the sign a panel is
    printed with, and read back with."""
    return -1.0 if lead == "aVR" and (layout or "").startswith("cabrera-") else 1.0


def lead_caption(layout: str | None, lead: str) -> str:
    """The name printed beside a panel ('-aVR' for the inverted Cabrera aVR)."""
    return "-aVR" if lead_sign(layout, lead) < 0 else lead


@dataclass(frozen=True)
class Label:
    """One diagnosis the network reports.

    key: short code used in files and the CLI. name: words for a physician.
    evidence: what on the trace shows it. evidence_leads: the leads a cardiologist marks
    (ECG_FACTS.md); "every lead printed at that moment" is spelled as all 12 leads.
    """

    key: str
    name: str
    evidence: str
    evidence_leads: tuple[str, ...]


LABEL_INFO: tuple[Label, ...] = (
    Label("SR", "sinus rhythm", "P waves", ("II", "I", "aVF")),
    Label("AF", "atrial fibrillation", "baseline between QRS complexes", ("V1", "II")),
    Label("AFL", "atrial flutter", "F waves between QRS complexes", ("II", "III", "aVF", "V1")),
    Label("PVC", "premature ventricular complex", "the premature QRS-T", ALL_LEADS),
    Label("PAC", "premature atrial complex", "the premature P wave", ALL_LEADS),
    Label("IAVB", "first-degree AV block", "the PR interval", ("II", "V1")),
    Label("LBBB", "left bundle branch block", "QRS complexes", ("I", "aVL", "V1", "V5", "V6")),
    Label("RBBB", "right bundle branch block", "QRS complexes", ("V1", "V2", "I", "V6")),
)
LABELS: tuple[str, ...] = tuple(label.key for label in LABEL_INFO)
BY_KEY: dict[str, Label] = {label.key: label for label in LABEL_INFO}


def canonical_lead(name: str) -> str:
    """Return the standard spelling of a lead name given in any case ('avr' -> 'aVR')."""
    lookup = {lead.lower(): lead for lead in LEADS}
    key = name.strip().lower()
    if key not in lookup:
        raise ValueError(f"unknown lead name {name!r}")
    return lookup[key]


def parse_label_list(text: str) -> tuple[str, ...]:
    """Parse 'AFL,PVC' into label keys in canonical order; raise ValueError on unknown keys."""
    wanted = {part.strip().upper() for part in text.split(",") if part.strip()}
    unknown = wanted - set(LABELS)
    if unknown:
        raise ValueError(
            f"unknown label(s) {', '.join(sorted(unknown))}; known labels are {', '.join(LABELS)}"
        )
    return tuple(key for key in LABELS if key in wanted)
