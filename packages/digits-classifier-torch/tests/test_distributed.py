"""Data-parallel training with torchrun: two real processes on the CPU (gloo) against one process."""

import os
import subprocess
import sys

import pytest
import safetensors.torch
import torch
from digits_classifier_torch import model

from shared_contracts import RunRecord

OPTIONS = ["--epochs", "2", "--channels", "4", "--hidden-size", "16", "--batch-size", "64", "--dropout", "0"]
LARGEST_WEIGHT_DIFFERENCE = 0.01
"""The largest difference allowed between a weight trained by two processes and by one: five AdamW steps of
the default learning rate. The processes average the means of their halves of the last, uneven batch of each
epoch, where one process takes the mean of the whole; AdamW's normalisation can turn that into a step of
about the learning rate for a weight whose gradient is near zero."""
MEAN_WEIGHT_DIFFERENCE = 1e-4
"""The mean difference allowed over all weights."""


def torchrun(arguments, environment=None):
    return subprocess.run(
        [
            sys.executable,
            *("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"),
            *("-m", "digits_classifier_torch", *arguments),
        ],
        env={**os.environ, "PYTHONHASHSEED": "0", **(environment or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def weights(run_directory):
    record = RunRecord.load(run_directory)
    tensors = safetensors.torch.load_file(run_directory / record.checkpoints[-1].path)
    return {name: value for name, value in tensors.items() if name.startswith("network.")}


def test_two_processes_match_one_process_with_the_same_global_batch(dataset_directory, tmp_path):
    runs = tmp_path / "runs"
    folders = ["--dataset-directory", str(dataset_directory), "--runs-directory", str(runs), "--no-progress"]
    completed = torchrun(["train", *OPTIONS, "--run-name", "two-processes", *folders])
    assert completed.returncode == 0, completed.stderr[-3000:]
    configuration = model.Configuration(epochs=2, channels=4, hidden_size=16, batch_size=64, dropout=0.0)
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
    assert two.final_metrics["test_accuracy"] == pytest.approx(one.final_metrics["test_accuracy"], abs=0.02)
    assert two.epochs[-1].metrics["train_loss"] == pytest.approx(
        one.epochs[-1].metrics["train_loss"], rel=1e-3
    )
    assert sorted(path.name for path in (runs / "two-processes").iterdir()) == [
        "checkpoints",
        "run.json",
        "training.log",
    ]


def test_a_global_batch_that_does_not_split_evenly_is_refused(dataset_directory, tmp_path):
    folders = ["--dataset-directory", str(dataset_directory), "--runs-directory", str(tmp_path)]
    completed = torchrun(["train", "--epochs", "1", "--batch-size", "63", "--no-progress", *folders])
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
        "from digits_classifier_torch import model\n"
        "configuration = model.Configuration(epochs=1, channels=4, hidden_size=16, batch_size=64)\n"
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
