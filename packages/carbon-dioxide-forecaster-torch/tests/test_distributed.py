"""Data-parallel training with torchrun: two real processes on the CPU (gloo) against one process."""

import os
import subprocess
import sys

import pytest
import safetensors.torch
import torch
from carbon_dioxide_forecaster_torch import model

from shared_contracts import RunRecord

OPTIONS = ["--epochs", "2", "--hidden-size", "8", "--batch-size", "128", "--dropout", "0"]
LARGEST_WEIGHT_DIFFERENCE = 1e-6
"""The largest difference allowed between a weight trained by two processes and by one: measured 3.0e-8 (two
epochs on a 2-core CPU, gloo), so about 30 times the measured value. Without dropout the two runs take the
same steps; they differ only in rounding: each process averages its half of the batch and the halves' gradients
are then averaged, where one process takes the mean of the whole, and the last batch of each epoch is uneven."""
MEAN_WEIGHT_DIFFERENCE = 1e-7
"""The mean difference allowed over all weights: measured 1.3e-9."""
RELATIVE_METRIC_DIFFERENCE = 1e-6
"""How far a metric of the two runs may differ, relative to its value: measured 2e-8 on the test error."""


# Copied from digits-classifier-torch:tests.test_distributed.torchrun with digits-classifier-torch->carbon-dioxide-forecaster-torch
def torchrun(arguments, environment=None):
    return subprocess.run(
        [
            sys.executable,
            *("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"),
            *("-m", "carbon_dioxide_forecaster_torch", *arguments),
        ],
        env={**os.environ, "PYTHONHASHSEED": "0", **(environment or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# Copied from digits-classifier-torch:tests.test_distributed.weights
def weights(run_directory):
    record = RunRecord.load(run_directory)
    tensors = safetensors.torch.load_file(run_directory / record.checkpoints[-1].path)
    return {name: value for name, value in tensors.items() if name.startswith("network.")}


def test_two_processes_match_one_process_with_the_same_global_batch(dataset_directory, tmp_path):
    runs = tmp_path / "runs"
    folders = ["--dataset-directory", str(dataset_directory), "--runs-directory", str(runs), "--no-progress"]
    completed = torchrun(["train", *OPTIONS, "--run-name", "two-processes", *folders])
    assert completed.returncode == 0, completed.stderr[-3000:]
    configuration = model.Configuration(epochs=2, hidden_size=8, batch_size=128, dropout=0.0)
    model.train(
        configuration, dataset_directory=dataset_directory, run_directory=runs / "one", progress=False
    )
    two, one = RunRecord.load(runs / "two-processes"), RunRecord.load(runs / "one")
    assert two.status == "completed"
    assert two.environment.threads["data_parallel_processes"] == 2
    assert one.environment.threads["data_parallel_processes"] == 1
    differences = torch.cat(
        [
            (weights(runs / "two-processes")[name] - value).abs().flatten()
            for name, value in weights(runs / "one").items()
        ]
    )
    assert differences.max() <= LARGEST_WEIGHT_DIFFERENCE
    assert differences.mean() <= MEAN_WEIGHT_DIFFERENCE
    assert two.final_metrics["test_mean_absolute_error"] == pytest.approx(
        one.final_metrics["test_mean_absolute_error"], rel=RELATIVE_METRIC_DIFFERENCE
    )
    assert two.epochs[-1].metrics["train_loss"] == pytest.approx(
        one.epochs[-1].metrics["train_loss"], rel=RELATIVE_METRIC_DIFFERENCE
    )
    assert sorted(path.name for path in (runs / "two-processes").iterdir()) == [
        "checkpoints",
        "run.json",
        "training.log",
    ]


def test_a_global_batch_that_does_not_split_evenly_is_refused(dataset_directory, tmp_path):
    folders = ["--dataset-directory", str(dataset_directory), "--runs-directory", str(tmp_path)]
    completed = torchrun(["train", "--epochs", "1", "--batch-size", "127", "--no-progress", *folders])
    assert completed.returncode != 0
    assert "must be a multiple of the 2 processes" in completed.stderr
    assert not list(tmp_path.glob("*/run.json"))


def test_a_failing_data_parallel_run_is_recorded_as_failed_once(dataset_copy, tmp_path):
    """A failure inside training (here, validation shards gone after the start) stops every process."""
    for shard in (dataset_copy / "validation").glob("*.npz"):
        shard.unlink()
    script = tmp_path / "train_directly.py"
    script.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "from carbon_dioxide_forecaster_torch import model\n"
        "configuration = model.Configuration(epochs=1, hidden_size=8, batch_size=128)\n"
        "model.train(configuration, dataset_directory=Path(sys.argv[1]), run_directory=Path(sys.argv[2]))\n"
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            str(script),
            str(dataset_copy),
            str(tmp_path / "failing"),
        ],
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode != 0
    assert completed.stderr.count("shard file is missing") >= 2  # both processes say why
    assert RunRecord.load(tmp_path / "failing").status == "failed"
