"""Every training run of every model, with its final metrics next to the model's committed baseline.

Run records are read as JSON (the run record of ``shared-contracts``), from the folder the models write
into: ``runs/<model>/<run>/run.json`` under ``$ZOO_HOME`` or the repository's root. A record that cannot be
read is listed as unreadable instead of stopping the listing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from zoo.discovery import discover_packages


@dataclass(frozen=True)
class RunSummary:
    """One run of one model, as the listing shows it."""

    model: str
    """The model package's name."""
    run: str
    """The run directory's name."""
    status: str
    """``completed``, ``running``, ``interrupted``, ``failed``, or ``unreadable``."""
    started_at: str
    """When the run started (ISO 8601, UTC), or empty."""
    metrics: dict[str, float] = field(default_factory=dict)
    """The run's final metrics."""
    baseline: dict[str, float] = field(default_factory=dict)
    """The final metrics of the model's committed baseline (empty without one)."""


def default_runs_directory(root: Path) -> Path:
    """Where the models write their runs: ``runs/`` under ``$ZOO_HOME``, else under the repository's root."""
    return Path(os.environ.get("ZOO_HOME", root)) / "runs"


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def collect_runs(
    root: Path, runs_directory: Path | None = None, model: str | None = None
) -> list[RunSummary]:
    """The runs of every model package (or of ``model`` alone), oldest first within each model."""
    runs_directory = runs_directory or default_runs_directory(root)
    summaries = []
    for package in discover_packages(root):
        if package.kind != "model" or model not in (None, package.name):
            continue
        baseline_metrics = dict(
            (_read(package.directory / "baseline" / "run.json") or {}).get("final_metrics") or {}
        )
        found = []
        for record_path in sorted((runs_directory / package.name).glob("*/run.json")):
            record = _read(record_path)
            if record is None:
                found.append(
                    RunSummary(
                        package.name, record_path.parent.name, "unreadable", "", baseline=baseline_metrics
                    )
                )
                continue
            found.append(
                RunSummary(
                    model=package.name,
                    run=record_path.parent.name,
                    status=str(record.get("status", "unreadable")),
                    started_at=str(record.get("started_at", "")),
                    metrics=dict(record.get("final_metrics") or {}),
                    baseline=baseline_metrics,
                )
            )
        summaries += sorted(found, key=lambda summary: (summary.started_at, summary.run))
    return summaries


def format_runs(summaries: list[RunSummary], output_format: str) -> str:
    """The runs as one table per model (``text``, each metric beside the baseline) or as JSON (``json``)."""
    if output_format == "json":
        return json.dumps([asdict(summary) for summary in summaries], indent=2)
    if not summaries:
        return "no runs yet: train a model (`uv run <model> train` in its folder)"
    blocks = []
    for model in dict.fromkeys(summary.model for summary in summaries):
        rows = [summary for summary in summaries if summary.model == model]
        metrics = sorted({name for row in rows for name in (*row.metrics, *row.baseline)})
        baseline = rows[0].baseline
        header = ["run", "status", "started at", *metrics]
        table = [header]
        if baseline:
            table.append(["(baseline)", "", "", *[_number(baseline.get(name)) for name in metrics]])
        for row in rows:
            cells = []
            for name in metrics:
                value = row.metrics.get(name)
                reference = baseline.get(name)
                difference = "" if value is None or reference is None else f" ({value - reference:+.4f})"
                cells.append(_number(value) + difference)
            table.append([row.run, row.status, row.started_at, *cells])
        widths = [max(len(line[column]) for line in table) for column in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in table
        ]
        note = "" if baseline else " (no baseline committed yet)"
        blocks.append(f"{model}{note}\n" + "\n".join("  " + line for line in lines))
    return "\n\n".join(blocks)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
