"""Data-parallel training over a mesh of devices, against a one-device run with the same global batch.

JAX fixes its number of CPU devices when it starts, so the data-parallel run is a real subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=2``; this process has one CPU device.
"""

import os
import subprocess
import sys

import numpy
import pytest
import safetensors.numpy
from digits_classifier_jax import model
from tiny_configuration import TINY

from shared_contracts import RunRecord

DEVICES = 2
"""The number of host devices the data-parallel run splits the CPU into."""


def final_weights(run_directory):
    """The final checkpoint's arrays of a completed run, by name."""
    _, checkpoint = model.final_checkpoint(run_directory)
    return safetensors.numpy.load_file(run_directory / checkpoint.path)


def test_two_devices_match_one_device_within_the_stated_tolerance(tmp_path, dataset_directory, tiny_run):
    run_directory = tmp_path / "runs" / "two-devices"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "digits_classifier_jax",
            "train",
            "--no-progress",
            "--dataset-directory",
            str(dataset_directory),
            "--runs-directory",
            str(run_directory.parent),
            "--run-name",
            run_directory.name,
            "--data-parallel-devices",
            str(DEVICES),
            *model.TINY_TRAINING_OPTIONS,
        ],
        env={**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    record = RunRecord.load(run_directory)
    reference = RunRecord.load(tiny_run)
    assert record.status == "completed"
    assert record.configuration == reference.configuration == TINY.to_dict()
    assert record.environment.threads["data_parallel_devices"] == DEVICES
    assert "data_parallel_devices" not in reference.environment.threads
    parallel, single = final_weights(run_directory), final_weights(tiny_run)
    assert parallel.keys() == single.keys()
    differences = {name: float(numpy.max(numpy.abs(parallel[name] - single[name]))) for name in single}
    assert max(differences.values()) <= model.DATA_PARALLEL_TOLERANCE, differences
    for metric, value in reference.final_metrics.items():
        assert record.final_metrics[metric] == pytest.approx(value, abs=model.DATA_PARALLEL_TOLERANCE)


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        (0, "must be 1 or more"),
        (3, "does not divide among 3"),
        (2, "--xla_force_host_platform_device_count=2"),
    ],
)
def test_impossible_device_counts_are_refused_before_anything_is_written(
    tmp_path, dataset_directory, devices, message
):
    """TINY's batch of 64 divides between 2 devices but not among 3; this process has one CPU device."""
    run_directory = tmp_path / "run"
    with pytest.raises(model.ZooError, match=message):
        model.train(
            TINY,
            dataset_directory=dataset_directory,
            run_directory=run_directory,
            progress=False,
            data_parallel_devices=devices,
        )
    assert not run_directory.exists()


def test_the_command_line_reports_an_impossible_device_count(tmp_path, dataset_directory, capsys):
    status = model.main(
        [
            "train",
            "--no-progress",
            "--dataset-directory",
            str(dataset_directory),
            "--runs-directory",
            str(tmp_path / "runs"),
            "--data-parallel-devices",
            "3",
            *model.TINY_TRAINING_OPTIONS,
        ]
    )
    assert status == 2
    assert "does not divide among 3 data-parallel devices" in capsys.readouterr().err
