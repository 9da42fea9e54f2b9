import json
import subprocess
import sys

from zoo.discovery import read_package
from zoo.listing import format_listing, list_packages, measured_coverage

MODULE = """\
def used(value):
    if value:
        return 1
    return 2


def unused():
    return 3
"""


def test_coverage_is_read_from_the_data_file_of_the_last_run(repository):
    directory = repository.add_package("alpha-model", {"model.py": MODULE})
    (directory / "exercise.py").write_text("from alpha_model.model import used\n\nused(True)\n")
    subprocess.run(
        [sys.executable, "-m", "coverage", "run", "--branch", "--source=alpha_model", "exercise.py"],
        cwd=directory,
        env={"PYTHONPATH": str(directory / "src"), "PATH": ""},
        check=True,
    )
    measurement = measured_coverage(read_package(directory))
    assert measurement.percent == 62.5  # 4 of 6 statements and 1 of 2 branches
    assert measurement.source == ".coverage"
    assert measurement.measured_at.endswith("+00:00")


def test_a_coverage_report_file_is_preferred(repository):
    directory = repository.add_package("alpha-model")
    (directory / ".coverage").write_bytes(b"not a database")
    (directory / "coverage.json").write_text(json.dumps({"totals": {"percent_covered": 97.25}}))
    measurement = measured_coverage(read_package(directory))
    assert (measurement.percent, measurement.source) == (97.25, "coverage.json")


def test_unreadable_coverage_counts_as_not_measured(repository):
    directory = repository.add_package("alpha-model")
    (directory / "coverage.json").write_text("{}")
    assert measured_coverage(read_package(directory)) is None
    (directory / "coverage.json").unlink()
    (directory / ".coverage").write_bytes(b"not a database")
    assert measured_coverage(read_package(directory)) is None


def test_the_listing_shows_every_package_with_its_stage_and_coverage(repository):
    repository.add_package("alpha-model", stage="production", framework="pytorch")
    directory = repository.add_package("beta-server", kind="service", stage="retired", version="2.0.0")
    (directory / "coverage.json").write_text(json.dumps({"totals": {"percent_covered": 100}}))
    rows = list_packages(repository.root)
    assert [(row.name, row.kind, row.stage, row.framework, row.version, row.coverage) for row in rows] == [
        ("alpha-model", "model", "production", "pytorch", "1.0.0", "not measured"),
        ("beta-server", "service", "retired", "numpy", "2.0.0", "100.0 %"),
    ]
    text = format_listing(rows, "text").splitlines()
    assert text[0].split() == [
        "package",
        "kind",
        "stage",
        "framework",
        "version",
        "coverage",
        "measured",
        "at",
    ]
    assert text[1].split() == ["alpha-model", "model", "production", "pytorch", "1.0.0", "not", "measured"]
    assert text[2].split()[:6] == ["beta-server", "service", "retired", "numpy", "2.0.0", "100.0"]
    assert text[3] == "1 retired: left out of the default test run, kept with their lock and baseline"
    assert json.loads(format_listing(rows, "json"))[1]["coverage"] == "100.0 %"
    assert len(format_listing(rows[:1], "text").splitlines()) == 2


def test_an_empty_repository_says_so(repository):
    assert format_listing(list_packages(repository.root), "text") == "no packages under packages/"
