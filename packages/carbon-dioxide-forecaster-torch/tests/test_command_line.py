import json
import os
import runpy
import sys

import numpy
import pytest
from carbon_dioxide_forecaster_torch import model

from shared_contracts import RunRecord

HELP_FILE = model.PACKAGE_DIRECTORY / "command-line-help.txt"


def test_the_committed_help_reference_is_current():
    """The documentation shows command-line-help.txt; regenerate it with ZOO_UPDATE_HELP=1 pytest."""
    current = model.command_line_help()
    if os.environ.get("ZOO_UPDATE_HELP") == "1":
        HELP_FILE.write_text(current)
    # White space is folded: Python 3.13's argparse aligns and wraps the columns differently from 3.11 and
    # 3.12, and wraps usage lines by the program name's width; the words must agree.
    assert HELP_FILE.read_text().split() == current.split(), (
        "command-line-help.txt is stale: run ZOO_UPDATE_HELP=1 pytest"
    )
    for command in ("prepare-data", "train", "evaluate", "export", "predict", "reproduce", "pipeline"):
        assert f"{model.MODEL_NAME} {command} --help" in current
    assert "--learning-rate" in current
    assert "The AdamW step size" in current


# Copied from digits-classifier-torch:tests.test_command_line.test_module_entry_point_prints_help with digits-classifier-torch->carbon-dioxide-forecaster-torch
def test_module_entry_point_prints_help(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["carbon-dioxide-forecaster-torch", "--help"])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_module("carbon_dioxide_forecaster_torch", run_name="__main__")
    assert stopped.value.code == 0
    assert "prepare-data" in capsys.readouterr().out


# Copied from digits-classifier-torch:tests.test_command_line.directories
def directories(tmp_path, dataset_directory):
    return {
        "dataset": ["--dataset-directory", str(dataset_directory)],
        "runs": ["--runs-directory", str(tmp_path / "runs")],
        "repository": ["--model-repository", str(tmp_path / "repository")],
    }


def test_every_step_from_the_command_line(tmp_path, dataset_directory, capsys):
    where = directories(tmp_path, dataset_directory)
    assert model.main(["prepare-data", *where["dataset"]]) == 0
    assert "test: 197 examples in 1 shard(s)" in capsys.readouterr().out
    arguments = [
        "train",
        *model.TINY_TRAINING_OPTIONS,
        "--run-name",
        "first",
        *where["dataset"],
        *where["runs"],
    ]
    assert model.main(arguments) == 0
    output = capsys.readouterr()
    assert '"test_improvement_over_seasonal_naive"' in output.out
    assert "epoch 2/2" in output.err
    assert model.main(["evaluate", "--split", "validation", *where["dataset"], *where["runs"]]) == 0
    assert "validation: 197 windows, target weeks 1994-01-01 to 1997-12-27" in capsys.readouterr().out
    assert (
        model.main(["export", "--run", "first", *where["dataset"], *where["runs"], *where["repository"]]) == 0
    )
    assert "exported first to" in capsys.readouterr().out
    history = model.BatchLoader(dataset_directory, "test", batch_size=1).arrays["history"]
    windows = tmp_path / "windows.npy"
    numpy.save(windows, history[:3])
    weeks = tmp_path / "weeks.csv"
    weeks.write_text("\n".join(f"{value:.2f}" for value in history[-1]) + "\n")
    assert model.main(["predict", str(windows), str(weeks), *where["repository"]]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 4
    assert printed[3].startswith(f"{weeks} [0]: the next 13 weeks, in ppm: ")
    assert len(printed[3].split(": ")[-1].split(", ")) == model.HORIZON_WEEKS
    assert model.main(["predict", str(windows), "--version", "1", "--json", *where["repository"]]) == 0
    onnx_result = json.loads(capsys.readouterr().out)
    assert model.main(["predict", str(windows), "--run", "first", "--json", *where["runs"]]) == 0
    native_result = json.loads(capsys.readouterr().out)
    onnx_forecasts = numpy.array(onnx_result[0]["forecasts"])
    assert onnx_forecasts.shape == (3, model.HORIZON_WEEKS)
    # Both are rounded to 0.01 ppm; they agree to within that rounding.
    assert numpy.abs(onnx_forecasts - numpy.array(native_result[0]["forecasts"])).max() <= 0.0100001
    short = tmp_path / "short.csv"
    short.write_text("370.1\n370.4\n")
    assert model.main(["predict", str(short), *where["repository"]]) == 2
    assert "2 weekly values, but the model reads exactly the last 104 weeks" in capsys.readouterr().err
    assert (
        model.main(
            ["reproduce", "first", "--allow-dirty", "--no-progress", *where["dataset"], *where["runs"]]
        )
        == 0
    )
    assert capsys.readouterr().out.strip().endswith("reproduced")
    assert model.main(["refresh-baseline", "latest", *where["runs"]]) == 2
    assert "default configuration" in capsys.readouterr().err
    record = RunRecord.load(tmp_path / "runs" / "first")
    record.evolve(configuration=model.Configuration().to_dict()).save(tmp_path / "runs" / "first")
    baseline = ["--baseline-directory", str(tmp_path / "baseline")]
    assert model.main(["refresh-baseline", "first", *baseline, *where["runs"]]) == 0
    assert "review and commit it" in capsys.readouterr().out
    assert RunRecord.load(tmp_path / "baseline").run_identifier == "first"


# Copied from digits-classifier-torch:tests.test_command_line.test_a_failed_reproduction_exits_with_one
def test_a_failed_reproduction_exits_with_one(tmp_path, dataset_directory, tiny_run, capsys):
    import dataclasses
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "tiny")
    record = RunRecord.load(runs / "tiny")
    altered = (dataclasses.replace(record.checkpoints[0], sha256="0" * 64), *record.checkpoints[1:])
    record.evolve(checkpoints=altered).save(runs / "tiny")
    arguments = [
        "reproduce",
        "tiny",
        "--allow-dirty",
        "--no-progress",
        "--dataset-directory",
        str(dataset_directory),
    ]
    assert model.main([*arguments, "--runs-directory", str(runs)]) == 1
    assert "NOT reproduced" in capsys.readouterr().out


# Copied from digits-classifier-torch:tests.test_command_line.test_reproducing_the_baseline_by_name
def test_reproducing_the_baseline_by_name(tmp_path, dataset_directory, capsys):
    status = model.main(["reproduce", "baseline", "--dataset-directory", str(tmp_path / "empty")])
    if (model.BASELINE_DIRECTORY / "run.json").exists():
        assert status in (0, 1, 2)  # the baseline trains the full default configuration: not run here
    else:
        assert status == 2
        assert "no run record here" in capsys.readouterr().err


def test_the_whole_pipeline_in_one_command(tmp_path, dataset_directory, capsys):
    where = directories(tmp_path, dataset_directory)
    arguments = ["pipeline", *model.TINY_TRAINING_OPTIONS, "--no-progress", "--run-name", "whole"]
    assert model.main([*arguments, *where["dataset"], *where["runs"], *where["repository"]]) == 0
    output = capsys.readouterr().out
    for step in ("1/5", "2/5", "3/5", "4/5", "5/5"):
        assert step in output
    assert "ppm through ONNX Runtime (seasonal naive" in output
    assert "mean absolute error" in output
    assert (tmp_path / "repository" / model.MODEL_NAME / "1" / "model.onnx").is_file()


def test_resume_from_the_command_line(tmp_path, dataset_directory, capsys):
    where = directories(tmp_path, dataset_directory)
    model.train(
        model.Configuration(epochs=2, hidden_size=8, batch_size=128),
        dataset_directory=dataset_directory,
        run_directory=tmp_path / "runs" / "half",
        stop_after_epoch=1,
        progress=False,
    )
    assert model.main(["train", "--resume", "half", "--epochs", "3", *where["dataset"], *where["runs"]]) == 2
    assert "cannot resume with another configuration" in capsys.readouterr().err
    assert model.main(["train", "--resume", "half", "--no-progress", *where["dataset"], *where["runs"]]) == 0
    assert RunRecord.load(tmp_path / "runs" / "half").status == "completed"
    assert model.main(["train", "--resume", "half", *where["dataset"], *where["runs"]]) == 2
    assert "already complete" in capsys.readouterr().err


# Copied from digits-classifier-torch:tests.test_command_line.test_errors_say_what_to_do
def test_errors_say_what_to_do(tmp_path, dataset_directory, capsys):
    where = directories(tmp_path, dataset_directory)
    assert model.main(["export", "--run", "missing", *where["dataset"], *where["runs"]]) == 2
    assert "no run 'missing'" in capsys.readouterr().err
    assert model.main(["evaluate", *where["dataset"], *where["runs"]]) == 2
    assert "no completed run yet" in capsys.readouterr().err
    assert model.main(["predict", str(tmp_path / "x.npy"), *where["repository"]]) == 2
    assert "export a run first" in capsys.readouterr().err
    assert model.main(["prepare-data", "--dataset-directory", str(tmp_path / "runs")]) == 0
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{ truncated")
    assert model.main(["prepare-data", "--dataset-directory", str(tmp_path / "bad")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


# Copied from digits-classifier-torch:tests.test_command_line.test_run_directories_never_collide
def test_run_directories_never_collide(tmp_path):
    first = model.new_run_directory(tmp_path, model.Configuration())
    first.mkdir()
    second = model.new_run_directory(tmp_path, model.Configuration())
    assert second != first
    second.mkdir()
    third = model.new_run_directory(tmp_path, model.Configuration(), "prefix-")
    assert third.name.startswith("prefix-")


# Copied from digits-classifier-torch:tests.test_command_line.test_latest_picks_the_newest_completed_run
def test_latest_picks_the_newest_completed_run(tmp_path, tiny_run):
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "older")
    shutil.copytree(tiny_run, runs / "newer")
    shutil.copytree(tiny_run, runs / "unfinished")
    for name, started, status in (
        ("older", "2020", "completed"),
        ("newer", "2030", "completed"),
        ("unfinished", "2040", "running"),
    ):
        RunRecord.load(runs / name).evolve(started_at=started, status=status).save(runs / name)
    assert model.resolve_run("latest", runs) == runs / "newer"
    assert model.resolve_run(str(runs / "older"), tmp_path / "elsewhere") == runs / "older"


def test_default_directories_come_from_the_home(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    assert model.main(["prepare-data"]) == 0
    assert (
        tmp_path / "home" / "datasets" / "mauna-loa-carbon-dioxide-weekly" / "1" / "manifest.json"
    ).is_file()
    assert str(tmp_path / "home") in capsys.readouterr().out
