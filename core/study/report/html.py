"""Markdown to HTML, the subset ``report_markdown`` writes (headings, paragraphs, pipe tables,
images, code, bold and italics): report.html without a Markdown package."""
from __future__ import annotations

import html
import re


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", text)


def markdown_html(markdown: str, page_title: str) -> str:
    """A standalone HTML page of the Markdown this module writes: headings, paragraphs, pipe
    tables and images (the full Markdown syntax is not needed, so no package is)."""
    body: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
            i += 1
        elif line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            cells = [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", r.strip())[1:-1]] for r in block]
            head, data = cells[0], [c for c in cells[2:]]
            body.append("<table>\n<thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead>")
            body.append("<tbody>" + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>\n"
                                            for r in data) + "</tbody></table>")
        elif (img := re.fullmatch(r"!\[([^\]]*)\]\(([^)]+)\)", line.strip())):
            body.append(f'<p><img src="{html.escape(img.group(2))}" alt="{html.escape(img.group(1))}"></p>')
            i += 1
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "|", "![")):
                para.append(lines[i])
                i += 1
            body.append(f"<p>{_inline(' '.join(para))}</p>")
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
             "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
             "th,td{border:1px solid #bbb;padding:0.2em 0.5em;text-align:left}th{background:#eee}"
             "img{max-width:100%}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{html.escape(page_title)}"
            f"</title><style>{style}</style></head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")
