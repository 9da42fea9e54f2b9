"""The listing of every package: kind, stage, framework, version and the coverage of its last test run.

Coverage is read from what the package's last tox run left in its folder: a ``coverage.json`` report if
there is one, else the ``.coverage`` data file that pytest-cov writes, reported with the package's own
coverage configuration. A package that was never tested here shows "not measured".
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import coverage

from zoo.discovery import PackageInformation, discover_packages

NOT_MEASURED = "not measured"
"""What the listing shows for a package without coverage data."""


@dataclass(frozen=True)
class Measurement:
    """The line and branch coverage of a package's last test run."""

    percent: float
    """The total coverage, in percent."""
    measured_at: str
    """When the data was written (UTC, ISO 8601, to the second)."""
    source: str
    """The file it was read from, relative to the package's folder."""


def measured_coverage(package: PackageInformation) -> Measurement | None:
    """The coverage of the package's last test run, or ``None`` when there is none or it cannot be read."""
    report_file = package.directory / "coverage.json"
    data_file = package.directory / ".coverage"
    if report_file.is_file():
        try:
            percent = float(json.loads(report_file.read_text(encoding="utf-8"))["totals"]["percent_covered"])
        except (ValueError, KeyError, TypeError):
            return None
        return Measurement(percent, _modified(report_file), report_file.name)
    if data_file.is_file():
        measurement = coverage.Coverage(
            data_file=str(data_file), config_file=str(package.directory / "pyproject.toml")
        )
        # The data names the files that were measured; looking for unmeasured ones would import the package.
        measurement.set_option("run:source", None)
        measurement.set_option("run:source_pkgs", None)
        try:
            measurement.load()
            percent = measurement.report(file=io.StringIO(), ignore_errors=True)
        except coverage.exceptions.CoverageException:
            return None
        finally:
            measurement.get_data().close(force=True)  # the data file is an SQLite database: let it go
        return Measurement(percent, _modified(data_file), data_file.name)
    return None


def _modified(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ListedPackage:
    """One row of the listing."""

    name: str
    """The package's name."""
    kind: str
    """Model or service."""
    stage: str
    """Experimental, production or retired."""
    framework: str
    """The main framework."""
    version: str
    """The package's version."""
    coverage: str
    """The coverage of its last test run, for example ``100.0 %``, or ``not measured``."""
    measured_at: str
    """When that coverage was measured, or empty."""


def list_packages(root: Path) -> list[ListedPackage]:
    """Every package of the repository, retired ones included, with the coverage of its last test run."""
    rows = []
    for package in discover_packages(root, include_retired=True):
        measurement = measured_coverage(package)
        rows.append(
            ListedPackage(
                name=package.name,
                kind=package.kind,
                stage=package.stage,
                framework=package.framework,
                version=package.version,
                coverage=f"{measurement.percent:.1f} %" if measurement else NOT_MEASURED,
                measured_at=measurement.measured_at if measurement else "",
            )
        )
    return rows


def format_listing(rows: list[ListedPackage], output_format: str) -> str:
    """The listing as an aligned table (``text``) or as JSON (``json``)."""
    if output_format == "json":
        return json.dumps([asdict(row) for row in rows], indent=2)
    if not rows:
        return "no packages under packages/"
    header = ("package", "kind", "stage", "framework", "version", "coverage", "measured at")
    table = [header] + [
        (row.name, row.kind, row.stage, row.framework, row.version, row.coverage, row.measured_at)
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    retired = sum(row.stage == "retired" for row in rows)
    if retired:
        lines.append(
            f"{retired} retired: left out of the default test run, kept with their lock and baseline"
        )
    return "\n".join(lines)
