"""A self-contained HTML page: headings, text, tables and embedded figures.

Reports are copied between machines, attached to issues and opened on
laptops without a network, so a page must be one file that needs nothing
else: images are embedded as base64 data URIs, the style sheet is inline, and
there are no scripts, web fonts or external links to load.

    page = Page("wgan-gp-8gaussians")
    section = page.section("Config")
    section.add_key_values({"data.name": "8gaussians", "train.steps": 2000})
    section.add_figure(Path("curves.png"), "training curves")
    page.write(Path("report.html"))

A ``Section`` has the ``add_*`` methods; ``page.add_text`` and
``page.add_gallery`` go to the page's newest section (an untitled one is made
if there is none yet), and ``page.section(...)`` starts a new one.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from gankit.files import atomic_write

ImageSource = Union[Path, str, bytes]

# Magic numbers of the image formats a browser shows from a data URI without a plug-in.
_IMAGE_TYPES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
)

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #1d232a; background: #f6f7f9; line-height: 1.45; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 1.6em; margin: 16px 0 4px; }
h2 { font-size: 1.2em; margin: 0 0 10px; }
.subtitle { color: #56606b; margin: 0 0 16px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 14px 18px; margin: 14px 0; }
p { margin: 6px 0; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 0.92em; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid #dde1e6; padding: 3px 10px; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv td.num { text-align: left; }
tr:nth-child(even) td { background: #fafbfc; }
table.alarms tr th, table.alarms tr td { background: #fde8e8; color: #9b1c1c; border-color: #f3b4b4; }
figure { margin: 8px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e7eb; background: #fff; }
figcaption { color: #56606b; font-size: 0.88em; margin-top: 2px; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(var(--min-width), 1fr)); gap: 12px; }
.gallery figure { margin: 0; }
footer { color: #8a939c; font-size: 0.8em; margin-top: 24px; }
"""


def image_mime_type(data: bytes) -> str:
    """The MIME type of PNG, GIF or JPEG bytes, read from their magic number."""
    for magic, mime in _IMAGE_TYPES:
        if data.startswith(magic):
            return mime
    raise ValueError("not a PNG, GIF or JPEG image: only those can be embedded in a report")


def data_uri(image: ImageSource) -> str:
    """``image`` (a file or its bytes) as a ``data:`` URI the page carries inside itself."""
    data = Path(image).read_bytes() if isinstance(image, (str, Path)) else bytes(image)
    return f"data:{image_mime_type(data)};base64,{base64.b64encode(data).decode('ascii')}"


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes.

    gankit's figures are bare ``Figure`` objects (no pyplot, no backend), which
    are simply garbage collected; a pyplot figure is left open for its owner.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def format_value(value: Any) -> str:
    """A cell's text: floats to four significant digits, missing values as 'n/a', containers as JSON."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a" if math.isnan(value) else str(value)
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.4e}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(tag: str, value: Any) -> str:
    css = ' class="num"' if tag == "td" and _is_number(value) else ""
    return f"<{tag}{css}>{html.escape(format_value(value))}</{tag}>"


@dataclass
class Section:
    """One titled box of the page; blocks appear in the order they were added."""

    heading: str = ""
    blocks: list[str] = field(default_factory=list)

    def add_text(self, text: str) -> Section:
        """A paragraph of plain text (escaped; blank lines start new paragraphs)."""
        for paragraph in str(text).split("\n\n"):
            self.blocks.append(f"<p>{html.escape(paragraph.strip())}</p>")
        return self

    def add_key_values(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]], caption: str = "") -> Section:
        """A two-column table of names and values."""
        pairs = items.items() if isinstance(items, Mapping) else items
        rows = [(key, value) for key, value in pairs]
        return self.add_table(("", ""), rows, caption=caption, header=False, css_class="kv")

    def add_table(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        caption: str = "",
        header: bool = True,
        css_class: str = "",
    ) -> Section:
        """A table: ``columns`` names the header cells, each row gives one value per column.

        The first cell of each row is a header cell, since reports label their rows.
        Numbers are right-aligned so that columns of them line up.
        """
        parts = [f'<table class="{html.escape(css_class, quote=True)}">' if css_class else "<table>"]
        if caption:
            parts.append(f"<caption>{html.escape(caption)}</caption>")
        if header:
            parts.append("<thead><tr>" + "".join(_cell("th", c) for c in columns) + "</tr></thead>")
        parts.append("<tbody>")
        for row in rows:
            row = list(row)
            if len(row) != len(columns):
                raise ValueError(f"a table row has {len(row)} cells for {len(columns)} columns: {row!r}")
            cells = [_cell("th", row[0])] + [_cell("td", v) for v in row[1:]]
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
        self.blocks.append("".join(parts))
        return self

    def add_figure(self, image: ImageSource, caption: str = "", alt: str | None = None) -> Section:
        """An image (a PNG/GIF/JPEG file or its bytes) embedded in the page, with a caption."""
        self.blocks.append(_figure_html(image, caption, alt))
        return self

    def add_gallery(self, items: Iterable[tuple[ImageSource, str]], min_width: int = 220) -> Section:
        """Several (image, caption) pairs side by side, wrapping to the page width."""
        figures = "".join(_figure_html(image, caption, None) for image, caption in items)
        if figures:
            self.blocks.append(f'<div class="gallery" style="--min-width: {int(min_width)}px">{figures}</div>')
        return self

    def render(self) -> str:
        heading = f"<h2>{html.escape(self.heading)}</h2>" if self.heading else ""
        return f"<section>{heading}{''.join(self.blocks)}</section>"


def _figure_html(image: ImageSource, caption: str, alt: str | None) -> str:
    text = html.escape(alt if alt is not None else caption or "figure", quote=True)
    figcaption = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{data_uri(image)}" alt="{text}">{figcaption}</figure>'


class Page:
    """A report page: a title, an optional subtitle, then sections in order."""

    def __init__(self, title: str, subtitle: str = "", footer: str = ""):
        self.title = title
        self.subtitle = subtitle
        self.footer = footer
        self.sections: list[Section] = []

    def section(self, heading: str) -> Section:
        """Start a new section; later ``add_*`` calls on the page go into it."""
        section = Section(heading)
        self.sections.append(section)
        return section

    @property
    def current(self) -> Section:
        if not self.sections:
            self.sections.append(Section())
        return self.sections[-1]

    def add_text(self, text: str) -> Section:
        return self.current.add_text(text)

    def add_gallery(self, items: Iterable[tuple[ImageSource, str]], min_width: int = 220) -> Section:
        return self.current.add_gallery(items, min_width)

    def render(self) -> str:
        """The whole document as a string."""
        title = html.escape(self.title)
        subtitle = f'<p class="subtitle">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        footer = f"<footer>{html.escape(self.footer)}</footer>" if self.footer else ""
        body = "".join(s.render() for s in self.sections if s.blocks or s.heading)
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{_STYLE}</style></head>"
            f"<body><main><h1>{title}</h1>{subtitle}{body}{footer}</main></body></html>\n"
        )

    def write(self, path: str | Path) -> Path:
        """Write the page atomically (a reader never sees half a file) and return its path."""
        path = Path(path)
        text = self.render().encode("utf-8")
        atomic_write(path, lambda handle: handle.write(text))
        return path
