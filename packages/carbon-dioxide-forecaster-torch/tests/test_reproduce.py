import dataclasses
import json
import shutil
import subprocess

import pytest
from carbon_dioxide_forecaster_torch import model
from tiny_configuration import TINY

from shared_contracts import DatasetManifest, RunRecord


# Copied from digits-classifier-torch:tests.test_reproduce.clean_package
@pytest.fixture
def clean_package(tmp_path):
    """A committed copy of the package's lock in a git repository: a clean tree with the same lock."""
    package = tmp_path / "checkout" / "packages" / model.MODEL_NAME
    package.mkdir(parents=True)
    shutil.copy(model.PACKAGE_DIRECTORY / "uv.lock", package / "uv.lock")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=package, check=True)
    subprocess.run([*git, "add", "-A"], cwd=package, check=True)
    subprocess.run([*git, "commit", "-qm", "lock"], cwd=package, check=True)
    return package


# Copied from digits-classifier-torch:tests.test_reproduce.test_a_run_reproduces_bit_identically_on_the_same_platform
def test_a_run_reproduces_bit_identically_on_the_same_platform(
    tiny_run, dataset_directory, tmp_path, clean_package
):
    result = model.reproduce(
        tiny_run,
        dataset_directory=dataset_directory,
        runs_directory=tmp_path,
        package_directory=clean_package,
    )
    assert result["reproduced"] is True
    assert result["mode"] == "bit-identical"
    assert [check["check"] for check in result["checks"]] == [
        "checkpoints",
        "metrics per epoch",
        "final metrics",
    ]
    assert any("differs from the recorded" in note for note in result["notes"])
    written = json.loads((tmp_path / result["reproduction"].split("/")[-1] / "reproduction.json").read_text())
    assert written == result


# Copied from digits-classifier-torch:tests.test_reproduce.test_a_dirty_tree_is_refused_unless_allowed
def test_a_dirty_tree_is_refused_unless_allowed(tiny_run, dataset_directory, tmp_path, clean_package):
    (clean_package / "model.py").write_text("# an uncommitted change\n")
    with pytest.raises(model.ZooError, match=r"uncommitted changes.*--allow-dirty"):
        model.reproduce(
            tiny_run,
            dataset_directory=dataset_directory,
            runs_directory=tmp_path,
            package_directory=clean_package,
        )
    assert list(tmp_path.glob("reproduction-*")) == []
    result = model.reproduce(
        tiny_run,
        dataset_directory=dataset_directory,
        runs_directory=tmp_path,
        allow_dirty=True,
        progress=False,
        package_directory=clean_package,
    )
    assert result["reproduced"] is True
    assert "uncommitted changes (--allow-dirty)" in result["notes"][0]
    reproduced = RunRecord.load(result["reproduction"])
    assert reproduced.notes == tuple(result["notes"])


# Copied from digits-classifier-torch:tests.test_reproduce.test_another_lock_is_refused
def test_another_lock_is_refused(tiny_run, dataset_directory, tmp_path, clean_package):
    (clean_package / "uv.lock").write_text("version = 1\n")
    with pytest.raises(model.ZooError, match="the dependencies differ"):
        model.reproduce(
            tiny_run,
            dataset_directory=dataset_directory,
            runs_directory=tmp_path,
            package_directory=clean_package,
        )


# Copied from digits-classifier-torch:tests.test_reproduce.test_another_dataset_is_refused
def test_another_dataset_is_refused(tiny_run, dataset_copy, tmp_path):
    manifest = DatasetManifest.load(dataset_copy)
    dataclasses.replace(manifest, version="another").save(dataset_copy)
    with pytest.raises(model.ZooError, match="another dataset"):
        model.reproduce(tiny_run, dataset_directory=dataset_copy, runs_directory=tmp_path)


# Copied from digits-classifier-torch:tests.test_reproduce.test_an_unfinished_run_cannot_be_reproduced
def test_an_unfinished_run_cannot_be_reproduced(tiny_run_copy, dataset_directory, tmp_path):
    RunRecord.load(tiny_run_copy).evolve(status="failed").save(tiny_run_copy)
    with pytest.raises(model.ZooError, match="only a completed run can be reproduced"):
        model.reproduce(tiny_run_copy, dataset_directory=dataset_directory, runs_directory=tmp_path)


def test_on_another_platform_metrics_must_agree_within_the_tolerance(
    tiny_run_copy, dataset_directory, tmp_path, clean_package
):
    record = RunRecord.load(tiny_run_copy)
    elsewhere = dataclasses.replace(record.environment, platform="another operating system")
    record.evolve(environment=elsewhere).save(tiny_run_copy)
    result = model.reproduce(
        tiny_run_copy,
        dataset_directory=dataset_directory,
        runs_directory=tmp_path,
        package_directory=clean_package,
    )
    assert result["mode"] == "within tolerance"
    assert result["reproduced"] is True
    assert {check["check"] for check in result["checks"]} == set(model.REPRODUCTION_TOLERANCE)
    metrics = dict(
        record.final_metrics, test_mean_absolute_error=record.final_metrics["test_mean_absolute_error"] + 0.5
    )
    record.evolve(environment=elsewhere, final_metrics=metrics).save(tiny_run_copy)
    failed = model.reproduce(
        tiny_run_copy,
        dataset_directory=dataset_directory,
        runs_directory=tmp_path,
        package_directory=clean_package,
    )
    assert failed["reproduced"] is False
    assert next(c for c in failed["checks"] if not c["passed"])["check"] == "test_mean_absolute_error"


# Copied from digits-classifier-torch:tests.test_reproduce.test_a_changed_checkpoint_record_fails_bit_identical_reproduction
def test_a_changed_checkpoint_record_fails_bit_identical_reproduction(
    tiny_run_copy, dataset_directory, tmp_path, clean_package
):
    record = RunRecord.load(tiny_run_copy)
    altered = (dataclasses.replace(record.checkpoints[0], sha256="0" * 64), *record.checkpoints[1:])
    record.evolve(checkpoints=altered).save(tiny_run_copy)
    result = model.reproduce(
        tiny_run_copy,
        dataset_directory=dataset_directory,
        runs_directory=tmp_path,
        package_directory=clean_package,
    )
    assert result["reproduced"] is False
    assert result["checks"][0] == {"check": "checkpoints", "passed": False}


# Copied from digits-classifier-torch:tests.test_reproduce.test_refreshing_the_baseline_is_deliberate
def test_refreshing_the_baseline_is_deliberate(tiny_run_copy, tmp_path):
    with pytest.raises(model.ZooError, match="did not use the default configuration"):
        model.refresh_baseline(tiny_run_copy, tmp_path / "baseline")
    record = RunRecord.load(tiny_run_copy)
    record.evolve(configuration=model.Configuration().to_dict()).save(tiny_run_copy)
    path = model.refresh_baseline(tiny_run_copy, tmp_path / "baseline")
    assert RunRecord.load(path.parent).configuration == model.Configuration().to_dict()
    assert RunRecord.load(path.parent).baseline_comparison == ()
    record.evolve(status="interrupted").save(tiny_run_copy)
    with pytest.raises(model.ZooError, match="only a completed run can be the baseline"):
        model.refresh_baseline(tiny_run_copy, tmp_path / "baseline")


# Copied from digits-classifier-torch:tests.test_reproduce.test_the_tiny_options_match_the_tiny_configuration
def test_the_tiny_options_match_the_tiny_configuration():
    arguments = model.build_parser().parse_args(["train", *model.TINY_TRAINING_OPTIONS])
    assert model._configuration_from(arguments, model.Configuration()) == TINY
