"""The shared reporter: one aligned table of name, measured, floor, ratio and goal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    measured: float
    unit: str
    floor: float | None = None  # None for an informational line (no ratio)
    goal: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.floor is None or self.floor == 0:
            return None
        return self.measured / self.floor


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _cells(row: Row) -> list[str]:
    floor = "-" if row.floor is None else f"{_number(row.floor)} {row.unit}"
    ratio = "-" if row.ratio is None else (f"{row.ratio:.2f}" if row.ratio >= 0.1 else f"{row.ratio:.2g}")
    return [row.name, f"{_number(row.measured)} {row.unit}", floor, ratio, row.goal, row.note]


HEADER = ["name", "measured", "floor", "ratio", "goal", "note"]


def format_table(rows: Iterable[Row]) -> str:
    table = [HEADER, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    aligned = []
    for index, line in enumerate(table):
        cells = [
            cell.rjust(w) if 0 < i < 4 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        aligned.append("  ".join(cells).rstrip())
        if index == 0:
            aligned.append("  ".join("-" * w for w in widths))
    return "\n".join(aligned)
