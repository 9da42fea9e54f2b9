import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from carbon_dioxide_forecaster_torch import model
from tiny_configuration import TINY

from shared_contracts import DatasetManifest, RunRecord, sha256_file


# Copied from digits-classifier-torch:tests.test_training.checkpoint_digests
def checkpoint_digests(run_directory):
    return [sha256_file(run_directory / c.path) for c in RunRecord.load(run_directory).checkpoints]


def test_a_tiny_run_writes_a_complete_run_directory(tiny_run, dataset_directory):
    record = RunRecord.load(tiny_run)
    assert record.status == "completed"
    assert record.model_name == model.MODEL_NAME
    assert record.configuration == TINY.to_dict()
    assert record.dataset_fingerprint == DatasetManifest.load(dataset_directory).fingerprint()
    assert [epoch.epoch for epoch in record.epochs] == [1, 2]
    assert set(record.epochs[0].metrics) == {"train_loss", "validation_mean_absolute_error"}
    assert set(record.final_metrics) == {*model.HIGHER_IS_BETTER, "test_seasonal_naive_mean_absolute_error"}
    assert record.final_metrics["test_improvement_over_seasonal_naive"] == pytest.approx(
        1
        - record.final_metrics["test_mean_absolute_error"]
        / record.final_metrics["test_seasonal_naive_mean_absolute_error"]
    )
    assert [c.epoch for c in record.checkpoints] == [1, 2]
    assert checkpoint_digests(tiny_run) == [c.sha256 for c in record.checkpoints]
    assert record.environment.libraries["torch"] == torch.__version__
    assert record.environment.threads["intra_operation"] == TINY.threads
    assert record.reproduction_tolerance == model.REPRODUCTION_TOLERANCE
    assert record.finished_at is not None
    assert "epoch 2" in (tiny_run / "training.log").read_text()


# Copied from digits-classifier-torch:tests.test_training.test_two_runs_with_the_same_seed_are_bit_identical
def test_two_runs_with_the_same_seed_are_bit_identical(tiny_run, dataset_directory, tmp_path):
    again = tmp_path / "again"
    record = model.train(TINY, dataset_directory=dataset_directory, run_directory=again, progress=False)
    assert checkpoint_digests(again) == checkpoint_digests(tiny_run)
    assert record.epochs == RunRecord.load(tiny_run).epochs
    assert record.final_metrics == RunRecord.load(tiny_run).final_metrics


# Copied from digits-classifier-torch:tests.test_training.test_another_seed_gives_other_weights
def test_another_seed_gives_other_weights(tiny_run, dataset_directory, tmp_path):
    other = tmp_path / "other"
    configuration = dataclasses.replace(TINY, seed=1, epochs=1)
    model.train(configuration, dataset_directory=dataset_directory, run_directory=other, progress=False)
    assert checkpoint_digests(other)[0] != checkpoint_digests(tiny_run)[0]


# Copied from digits-classifier-torch:tests.test_training.test_resuming_after_an_interruption_ends_bit_identical
def test_resuming_after_an_interruption_ends_bit_identical(tiny_run, dataset_directory, tmp_path, capsys):
    run_directory = tmp_path / "interrupted"
    stopped = model.train(
        TINY, dataset_directory=dataset_directory, run_directory=run_directory, stop_after_epoch=1
    )
    assert stopped.status == "interrupted"
    assert "epoch 1/2" in capsys.readouterr().err
    resumed = model.train(TINY, dataset_directory=dataset_directory, run_directory=run_directory, resume=True)
    assert resumed.status == "completed"
    assert checkpoint_digests(run_directory) == checkpoint_digests(tiny_run)
    assert resumed.epochs == RunRecord.load(tiny_run).epochs


# Copied from digits-classifier-torch:tests.test_training.test_resuming_a_run_stopped_after_its_last_epoch_only_evaluates
def test_resuming_a_run_stopped_after_its_last_epoch_only_evaluates(tiny_run, dataset_directory, tmp_path):
    run_directory = tmp_path / "last"
    model.train(TINY, dataset_directory=dataset_directory, run_directory=run_directory, stop_after_epoch=2)
    assert RunRecord.load(run_directory).status == "interrupted"
    resumed = model.train(TINY, dataset_directory=dataset_directory, run_directory=run_directory, resume=True)
    assert resumed.status == "completed"
    assert resumed.final_metrics == RunRecord.load(tiny_run).final_metrics
    assert checkpoint_digests(run_directory) == checkpoint_digests(tiny_run)


# Copied from digits-classifier-torch:tests.test_training.test_resuming_a_run_killed_before_its_first_checkpoint_starts_over
def test_resuming_a_run_killed_before_its_first_checkpoint_starts_over(tiny_run, dataset_directory, tmp_path):
    run_directory = tmp_path / "early"
    model.train(TINY, dataset_directory=dataset_directory, run_directory=run_directory, stop_after_epoch=1)
    record = RunRecord.load(run_directory)
    record.evolve(epochs=(), checkpoints=(), status="running").save(run_directory)
    model.train(TINY, dataset_directory=dataset_directory, run_directory=run_directory, resume=True)
    assert checkpoint_digests(run_directory) == checkpoint_digests(tiny_run)


def test_resuming_is_refused_when_it_cannot_be_exact(tiny_run, tiny_run_copy, dataset_directory, tmp_path):
    with pytest.raises(model.ZooError, match="already complete"):
        model.train(TINY, dataset_directory=dataset_directory, run_directory=tiny_run_copy, resume=True)
    record = RunRecord.load(tiny_run_copy)
    record.evolve(status="interrupted").save(tiny_run_copy)
    other = dataclasses.replace(TINY, learning_rate=0.5)
    with pytest.raises(model.ZooError, match=r"changed: learning_rate \(run: 0.001, given: 0.5\)"):
        model.train(other, dataset_directory=dataset_directory, run_directory=tiny_run_copy, resume=True)
    manifest = DatasetManifest.load(dataset_directory)
    other_dataset = tmp_path / "other-dataset"
    import shutil

    shutil.copytree(dataset_directory, other_dataset)
    dataclasses.replace(manifest, version="changed").save(other_dataset)
    with pytest.raises(model.ZooError, match="resume with the run's dataset"):
        model.train(TINY, dataset_directory=other_dataset, run_directory=tiny_run_copy, resume=True)
    last = tiny_run_copy / record.checkpoints[-1].path
    last.write_bytes(last.read_bytes()[:-1] + b"\0")
    with pytest.raises(model.ZooError, match="corrupt or was changed"):
        model.train(TINY, dataset_directory=dataset_directory, run_directory=tiny_run_copy, resume=True)
    last.unlink()
    with pytest.raises(model.ZooError, match="checkpoint is missing"):
        model.train(TINY, dataset_directory=dataset_directory, run_directory=tiny_run_copy, resume=True)


# Copied from digits-classifier-torch:tests.test_training.test_a_checkpoint_of_another_configuration_is_refused
def test_a_checkpoint_of_another_configuration_is_refused(tiny_run):
    record = RunRecord.load(tiny_run)
    with pytest.raises(model.ZooError, match="written with another configuration"):
        model.load_checkpoint(tiny_run, record.checkpoints[-1], dataclasses.replace(TINY, seed=5))


# Copied from digits-classifier-torch:tests.test_training.test_an_existing_run_name_is_not_overwritten
def test_an_existing_run_name_is_not_overwritten(tiny_run, dataset_directory):
    before = (tiny_run / "run.json").read_bytes()
    with pytest.raises(model.ZooError, match="resume it with --resume"):
        model.train(TINY, dataset_directory=dataset_directory, run_directory=tiny_run)
    assert (tiny_run / "run.json").read_bytes() == before


# Copied from digits-classifier-torch:tests.test_training.test_a_run_that_fails_is_recorded_as_failed
def test_a_run_that_fails_is_recorded_as_failed(dataset_copy, tmp_path):
    for shard in (dataset_copy / "validation").glob("*.npz"):
        shard.unlink()
    run_directory = tmp_path / "failing"
    with pytest.raises(Exception, match="shard file is missing"):
        model.train(TINY, dataset_directory=dataset_copy, run_directory=run_directory, progress=False)
    assert RunRecord.load(run_directory).status == "failed"
    assert "failed" in (run_directory / "training.log").read_text()


# Copied from digits-classifier-torch:tests.test_training.InterruptAfterTheFirstEpoch
class InterruptAfterTheFirstEpoch(logging.Handler):
    """Presses Ctrl-C, a real SIGINT to this process, when the model logs its first epoch.

    The signal is raised in the training's own thread at a known point, so that the interrupt lands in the
    model's code: a signal sent from another thread at a random moment can land inside the coverage tracer.
    """

    def emit(self, record):
        if record.getMessage().startswith("epoch 1:"):
            signal.raise_signal(signal.SIGINT)


def test_an_interrupt_is_recorded_and_the_command_says_how_to_resume(dataset_directory, tmp_path, capsys):
    runs = tmp_path / "runs"
    long_options = ["--epochs", "400", "--hidden-size", "4", "--batch-size", "256"]
    interrupter = InterruptAfterTheFirstEpoch()
    logging.getLogger(model.MODEL_NAME).addHandler(interrupter)
    try:
        status = model.main(
            [
                "train",
                *long_options,
                "--run-name",
                "stopped",
                "--no-progress",
                "--dataset-directory",
                str(dataset_directory),
                "--runs-directory",
                str(runs),
            ]
        )
    finally:
        logging.getLogger(model.MODEL_NAME).removeHandler(interrupter)
    assert status == 130
    assert "train --resume" in capsys.readouterr().err
    record = RunRecord.load(runs / "stopped")
    assert record.status == "interrupted"
    assert len(record.epochs) == 1


def test_a_killed_training_process_resumes_bit_identical(dataset_directory, tmp_path):
    """SIGKILL a real training process in the middle of an epoch, resume it, compare with a clean run."""
    # Small batches make each epoch last long enough (a tenth of a second or more) to be killed in the middle.
    configuration = dataclasses.replace(TINY, epochs=8, hidden_size=32, batch_size=16)
    options = ["--epochs", "8", "--hidden-size", "32", "--batch-size", "16"]
    runs = tmp_path / "runs"
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    environment.pop("COV_CORE_SOURCE", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "carbon_dioxide_forecaster_torch",
            "train",
            *options,
            "--run-name",
            "killed",
            "--dataset-directory",
            str(dataset_directory),
            "--runs-directory",
            str(runs),
            "--no-progress",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    record_path = runs / "killed" / "run.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if record_path.exists() and len(json.loads(record_path.read_text())["epochs"]) >= 3:
            break
        assert process.poll() is None, "the training process ended before it could be killed"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = RunRecord.load(runs / "killed")
    assert killed.status == "running"  # a SIGKILL leaves no chance to write anything else
    assert 3 <= len(killed.epochs) < 8
    assert not list((runs / "killed").rglob("*.partial"))
    model.train(
        configuration, dataset_directory=dataset_directory, run_directory=runs / "killed", resume=True
    )
    model.train(
        configuration, dataset_directory=dataset_directory, run_directory=runs / "clean", progress=False
    )
    assert checkpoint_digests(runs / "killed") == checkpoint_digests(runs / "clean")
    assert RunRecord.load(runs / "killed").epochs == RunRecord.load(runs / "clean").epochs


# Copied from digits-classifier-torch:tests.test_training.test_devices
def test_devices(monkeypatch):
    assert model.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(model.ZooError, match="device must be auto, cpu or cuda"):
        model.resolve_device("tpu")
    if torch.cuda.is_available():  # on a GPU machine the automatic choice is the GPU
        assert model.resolve_device("auto").type == "cuda"
    else:
        assert model.resolve_device("auto") == torch.device("cpu")
        with pytest.raises(model.ZooError, match="sees no CUDA device"):
            model.resolve_device("cuda")
    record = model.environment_record(torch.device("cpu"))
    assert record.device == "cpu"
    assert record.python.count(".") == 2


# Copied from digits-classifier-torch:tests.test_training.test_code_lineage_in_and_outside_a_repository
def test_code_lineage_in_and_outside_a_repository(tmp_path):
    outside = model.code_lineage(tmp_path)
    assert outside.revision is None
    assert outside.dirty is True
    package = tmp_path / "repository" / "packages" / "example"
    package.mkdir(parents=True)
    (tmp_path / "repository" / "shared-contracts").mkdir()
    (tmp_path / "repository" / "shared-contracts" / "contract.py").write_text("VALUE = 1\n")
    (package / "model.py").write_text("print('hello')\n")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path / "repository", check=True)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path / "repository", check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=tmp_path / "repository", check=True)
    clean = model.code_lineage(package)
    assert clean.dirty is False
    assert len(clean.revision) == 40
    assert clean.diff_sha256 is None
    (tmp_path / "repository" / "shared-contracts" / "contract.py").write_text("VALUE = 2\n")
    dirty = model.code_lineage(package)
    assert dirty.dirty is True
    assert dirty.revision == clean.revision
    assert len(dirty.diff_sha256) == 64
    (tmp_path / "repository" / "unrelated.txt").write_text("outside the package's scope\n")
    (tmp_path / "repository" / "shared-contracts" / "contract.py").write_text("VALUE = 1\n")
    assert model.code_lineage(package).dirty is False
    assert model.git_output(["status"], tmp_path / "does-not-exist") is None


# Copied from digits-classifier-torch:tests.test_training.test_lock_digest
def test_lock_digest(tmp_path):
    assert model.lock_sha256(tmp_path) is None
    (tmp_path / "uv.lock").write_text("version = 1\n")
    assert model.lock_sha256(tmp_path) == sha256_file(tmp_path / "uv.lock")
    assert model.lock_sha256() == sha256_file(model.PACKAGE_DIRECTORY / "uv.lock")


def test_comparison_with_a_baseline(tiny_run, tmp_path):
    assert model.load_baseline(tmp_path) is None
    assert model.compare_with_baseline({"test_mean_absolute_error": 0.5}, None) == ()
    assert "No baseline" in model.format_comparison(())
    baseline = RunRecord.load(tiny_run)
    baseline.save(tmp_path)
    loaded = model.load_baseline(tmp_path)
    metrics = dict(baseline.final_metrics)
    metrics["test_improvement_over_seasonal_naive"] += 0.01
    metrics["test_mean_absolute_error"] += 0.5
    metrics["unknown_metric"] = 1.0
    comparisons = model.compare_with_baseline(metrics, loaded)
    assert [c.metric for c in comparisons] == sorted(model.HIGHER_IS_BETTER)
    table = model.format_comparison(comparisons)
    assert "test_mean_absolute_error" in table
    assert "better" in table
    assert "worse" in table
    assert "same" in table
