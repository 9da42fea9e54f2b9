"""The run record: round trips through JSON and files, baseline comparisons, and every rejection."""

from __future__ import annotations

import copy
import json
import re

import pytest
from contract_builders import make_run_record

from shared_contracts import (
    CONTRACTS_VERSION,
    RUN_RECORD_FILE_NAME,
    RUN_STATUSES,
    BaselineComparison,
    CodeLineage,
    ContractError,
    EnvironmentRecord,
    EpochRecord,
    RunRecord,
    sha256_bytes,
)


def test_save_and_load_round_trip(tmp_path):
    record = make_run_record()
    path = record.save(tmp_path / "runs" / record.run_identifier)
    assert path == tmp_path / "runs" / record.run_identifier / RUN_RECORD_FILE_NAME
    loaded = RunRecord.load(path.parent)
    assert loaded == record
    assert loaded.contracts_version == CONTRACTS_VERSION
    assert loaded.epochs[1].metrics["validation_accuracy"] == 0.9
    assert loaded.checkpoints[0].epoch == 2
    assert loaded.code.dirty is True


def test_the_json_form_round_trips_through_text():
    record = make_run_record()
    data = json.loads(json.dumps(record.to_dict()))
    assert data["baseline_comparison"][0]["difference"] == pytest.approx(0.01)
    assert RunRecord.from_dict(data) == record


def test_a_minimal_running_record_round_trips(tmp_path):
    record = make_run_record(
        status="running",
        finished_at=None,
        epochs=(),
        final_metrics={},
        checkpoints=(),
        baseline_comparison=(),
        reproduction_tolerance={},
        notes=(),
        lock_sha256=None,
        code=CodeLineage(None, dirty=False),
        environment=EnvironmentRecord("3.13.0", "Linux", {}, "cpu"),
    )
    record.save(tmp_path)
    assert RunRecord.load(tmp_path) == record
    data = record.to_dict()
    del data["notes"], data["reproduction_tolerance"], data["environment"]["threads"]
    del data["code"]["diff_sha256"], data["finished_at"]
    assert RunRecord.from_dict(data) == record


def test_whole_numbers_are_read_as_numbers_where_a_number_is_expected():
    data = make_run_record().to_dict()
    data["final_metrics"]["test_accuracy"] = 1
    data["baseline_comparison"][0]["baseline"] = 0
    record = RunRecord.from_dict(data)
    assert record.final_metrics["test_accuracy"] == 1.0
    assert isinstance(record.final_metrics["test_accuracy"], float)
    assert isinstance(record.baseline_comparison[0].baseline, float)


def test_evolve_updates_a_record_that_stays_immutable():
    record = make_run_record(status="running", finished_at=None)
    finished = record.evolve(status="completed", finished_at="2024-05-01T13:00:00Z")
    assert (record.status, finished.status) == ("running", "completed")
    assert finished.finished_at == "2024-05-01T13:00:00Z"
    with pytest.raises(AttributeError):
        record.status = "failed"  # type: ignore[misc]
    assert RUN_STATUSES == ("running", "completed", "failed", "interrupted")


@pytest.mark.parametrize(
    ("value", "baseline", "higher_is_better", "improved"),
    [
        (0.95, 0.9, True, True),
        (0.85, 0.9, True, False),
        (0.9, 0.9, True, False),
        (0.2, 0.3, False, True),
        (0.4, 0.3, False, False),
        (0.3, 0.3, False, False),
    ],
)
def test_a_baseline_comparison_knows_which_direction_is_better(value, baseline, higher_is_better, improved):
    comparison = BaselineComparison("metric", value, baseline, higher_is_better)
    assert comparison.difference == pytest.approx(value - baseline)
    assert comparison.improved is improved


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"status": "paused"},
            "status",
            "must be one of running, completed, failed, interrupted, found 'paused'",
        ),
        ({"dataset_fingerprint": "digits-v1"}, "dataset_fingerprint", "must be a SHA-256 digest"),
        ({"lock_sha256": "0" * 63}, "lock_sha256", "must be a SHA-256 digest or null"),
    ],
)
def test_an_invalid_record_cannot_be_made(changes, field, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        make_run_record(**changes)
    assert caught.value.field == field


REMOVE = object()


def changed(path, value):
    data = copy.deepcopy(make_run_record().to_dict())
    container = data
    for key in path[:-1]:
        container = container[key]
    if value is REMOVE:
        del container[path[-1]]
    else:
        container[path[-1]] = value
    return data


REQUIRED = (
    "model_name",
    "model_version",
    "run_identifier",
    "configuration",
    "seed",
    "dataset_fingerprint",
    "code",
    "environment",
    "started_at",
    "status",
    "epochs",
    "final_metrics",
    "checkpoints",
    "baseline_comparison",
    "contracts_version",
)


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        *(((name,), REMOVE, name, "is missing") for name in REQUIRED),
        (("lock_sha256",), REMOVE, "lock_sha256", "is missing (use null where the package has no lock)"),
        (("lock_sha256",), "abc", "lock_sha256", "must be a SHA-256 digest or null"),
        (("seed",), "7", "seed", "must be an integer, found '7'"),
        (("seed",), 7.0, "seed", "must be an integer, found 7.0"),
        (("configuration",), [], "configuration", "must be an object, found []"),
        (("status",), "done", "status", "must be one of running, completed"),
        (("dataset_fingerprint",), "x" * 64, "dataset_fingerprint", "must be a SHA-256 digest"),
        (("code", "revision"), REMOVE, "code.revision", "is missing (use null outside a repository)"),
        (("code", "dirty"), "yes", "code.dirty", "must be true or false, found 'yes'"),
        (("code", "dirty"), 1, "code.dirty", "must be true or false, found 1"),
        (("code", "diff_sha256"), "diff", "code.diff_sha256", "must be a SHA-256 digest, found 'diff'"),
        (("code",), "0123abc", "code", "must be an object"),
        (("environment", "libraries"), {"torch": 2.3}, "environment.libraries.torch", "must be a string"),
        (
            ("environment", "threads"),
            {"intra_operation": "2"},
            "environment.threads.intra_operation",
            "integer",
        ),
        (("environment", "device"), REMOVE, "environment.device", "is missing"),
        (("epochs", 1, "epoch"), "2", "epochs[1].epoch", "must be an integer"),
        (
            ("epochs", 0, "metrics"),
            {"loss": "low"},
            "epochs[0].metrics.loss",
            "must be a number, found 'low'",
        ),
        (("epochs", 0, "metrics"), {"loss": True}, "epochs[0].metrics.loss", "must be a number, found True"),
        (("epochs", 0), [1, {}], "epochs[0]", "expected a JSON object, found list"),
        (("final_metrics",), {"accuracy": None}, "final_metrics.accuracy", "must be a number, found None"),
        (("checkpoints", 0, "sha256"), "F" * 64, "checkpoints[0].sha256", "must be a SHA-256 digest"),
        (("checkpoints", 0, "path"), REMOVE, "checkpoints[0].path", "is missing"),
        (
            ("baseline_comparison", 0, "higher_is_better"),
            "true",
            "baseline_comparison[0].higher_is_better",
            "true",
        ),
        (("baseline_comparison", 0, "value"), REMOVE, "baseline_comparison[0].value", "is missing"),
        (("reproduction_tolerance",), {"accuracy": "0.1"}, "reproduction_tolerance.accuracy", "a number"),
        (("notes",), "one note", "notes", "must be a list"),
        (("notes",), ["fine", 2], "notes[1]", "must be a string, found 2"),
        (("finished_at",), 1714568400, "finished_at", "must be a string"),
        (("contracts_version",), "2.0.0", "contracts_version", "is 2.0.0, newer than this shared-contracts"),
        (("contracts_version",), "1.0.0-beta", "contracts_version", "must be a version such as"),
    ],
)
def test_load_refuses_a_bad_record_naming_the_file_and_the_field(tmp_path, path, value, field, message):
    (tmp_path / RUN_RECORD_FILE_NAME).write_text(json.dumps(changed(path, value)))
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        RunRecord.load(tmp_path)
    assert caught.value.source == str(tmp_path / RUN_RECORD_FILE_NAME)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{tmp_path / RUN_RECORD_FILE_NAME}, field '{field}': ")


def test_from_dict_without_a_source_names_the_field():
    with pytest.raises(ContractError) as caught:
        RunRecord.from_dict(changed(("status",), "paused"))
    assert caught.value.source is None
    assert str(caught.value).startswith("field 'status': must be one of")


def test_a_record_that_is_not_an_object_is_refused(tmp_path):
    (tmp_path / RUN_RECORD_FILE_NAME).write_text('["run"]')
    with pytest.raises(ContractError, match="expected a JSON object, found list"):
        RunRecord.load(tmp_path)


def test_a_missing_record_says_this_is_not_a_run_directory(tmp_path):
    with pytest.raises(ContractError, match="is this a run directory") as caught:
        RunRecord.load(tmp_path / "no-run")
    assert caught.value.source == str(tmp_path / "no-run" / RUN_RECORD_FILE_NAME)


def test_a_truncated_record_is_refused(tmp_path):
    path = make_run_record().save(tmp_path)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ContractError, match="the run record is not valid JSON") as caught:
        RunRecord.load(tmp_path)
    assert caught.value.source == str(path)


def test_a_configuration_that_is_not_json_leaves_the_previous_record_in_place(tmp_path):
    record = make_run_record(status="running", finished_at=None)
    path = record.save(tmp_path)
    before = path.read_bytes()
    broken = record.evolve(status="completed", configuration={"device": object()})
    with pytest.raises(TypeError):
        broken.save(tmp_path)
    assert path.read_bytes() == before
    assert RunRecord.load(tmp_path) == record
    assert [each.name for each in tmp_path.iterdir()] == [RUN_RECORD_FILE_NAME]


def test_the_parts_have_plain_json_forms():
    assert CodeLineage("abc", False).to_dict() == {"revision": "abc", "dirty": False, "diff_sha256": None}
    assert EpochRecord(3, {"loss": 0.5}).to_dict() == {"epoch": 3, "metrics": {"loss": 0.5}}
    environment = EnvironmentRecord("3.12.1", "Linux", {"jax": "0.4"}, "cuda:0", {"inter_operation": 1})
    assert environment.to_dict()["threads"] == {"inter_operation": 1}
    assert make_run_record(lock_sha256=sha256_bytes(b"other")).to_dict()["lock_sha256"] == sha256_bytes(
        b"other"
    )
