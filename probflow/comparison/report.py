"""Comparison rows on disk (CSV and JSON) and as a markdown table."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from probflow.files import write_text

if TYPE_CHECKING:
    from probflow.comparison.run import ComparisonRow

#: Published numbers keyed by row label: ``(FID, KID)``, ``None`` where nothing was printed.
Reference = Mapping[str, tuple[float | None, float | None]]


def write_rows(rows: Sequence[ComparisonRow], stem: str | Path) -> tuple[Path, Path]:
    """Write ``rows`` to ``<stem>.csv`` (one header line of field names) and ``<stem>.json`` (a list of objects),
    each atomically."""
    stem = Path(stem)
    records = [row.to_dict() for row in rows]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=[f.name for f in fields(rows[0])] if rows else [])
    writer.writeheader()
    writer.writerows(records)
    csv_path = write_text(stem.with_suffix(".csv"), table.getvalue())
    json_path = write_text(stem.with_suffix(".json"), json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    return csv_path, json_path


def markdown_table(rows: Sequence[ComparisonRow], published: Reference | None = None, *, kid: bool = True) -> str:
    """A markdown table of ``rows``: label, model, steps, NFE, FID and KID with their 95% bootstrap intervals (KID
    left out with ``kid=False``), samples ``n``, seconds; with ``published``, two more columns hold the published
    FID and KID of the rows whose label it lists. A row whose samples are those of an earlier row, up to float32
    round-off (``same_samples_as``), says so in its label cell."""
    header = ["configuration", "model", "steps", "NFE", "FID [95% CI]", *(["KID [95% CI]"] if kid else []), "n",
              "time (s)"]
    if published is not None:
        header += ["lesson FID", "lesson KID"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        label = row.label if row.same_samples_as is None else f"{row.label} (same samples as *{row.same_samples_as}*)"
        cells = [label, row.model, _cell(row.steps, "d"), _cell(row.nfe, "d"),
                 _interval(row.fid, row.fid_low, row.fid_high, ".2f"),
                 *([_interval(row.kid, row.kid_low, row.kid_high, ".4f")] if kid else []),
                 str(row.samples), _cell(row.wall_s, ".1f")]
        if published is not None:
            fid, kid_value = published.get(row.label, (None, None))
            cells += [_cell(fid, "g"), _cell(kid_value, "g")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _interval(value: float, low: float, high: float, spec: str) -> str:
    """``value [low, high]``; a bound that was not computed (NaN: too many samples) is left out, a NaN value is —."""
    if math.isnan(value):
        return "—"
    if math.isnan(low):
        return format(value, spec)
    return f"{value:{spec}} [{low:{spec}}, {high:{spec}}]"


def _cell(value: float | int | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)
