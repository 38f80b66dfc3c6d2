"""Plain-text tables for the terminal and the results file, and the JSON the results are kept in."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# A column: the row key, its header, and how to print a value.
Column = tuple[str, str, Callable[[Any], str]]


def number(value: Any) -> str:
    """About three significant digits, thousands separated; '-' where there is no value."""
    if value is None:
        return "-"
    if isinstance(value, str) or not math.isfinite(value):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if magnitude >= 1 else f"{value:.3g}"


def ratio(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}x"


def percent(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def text(value: Any) -> str:
    return "-" if value is None else str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    """Left-aligned text columns, right-aligned numbers, one header line and a rule."""
    cells = [[fmt(row.get(key)) for key, _, fmt in columns] for row in rows]
    headers = [header for _, header, _ in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [fmt is not text for _, _, fmt in columns]  # numbers line up on the right

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


class Results:
    """The JSON document of one benchmark run, rewritten after every part so an interrupted run keeps its numbers.

    The printed tables go to a ``.txt`` beside it, so the committed results read like the terminal did.
    """

    def __init__(self, path: Path, header: dict[str, Any]):
        self.path = path
        self.text_path = path.with_suffix(".txt")
        self.document: dict[str, Any] = dict(header)
        self.lines: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)

    def say(self, message: str = "") -> None:
        print(message, flush=True)
        self.lines.append(message)

    def add(self, part: str, value: Any) -> None:
        self.document[part] = value
        self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps(self.document, indent=1, default=_plain) + "\n")
        self.text_path.write_text("\n".join(self.lines) + "\n")


def _plain(value: Any) -> Any:
    # Numpy scalars and other number-likes that json does not know.
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
