import json

import numpy
import pytest
import torch
from carbon_dioxide_forecaster_torch import model

from shared_contracts import ContractError, ParityReport, Predictor, RunRecord


def history_of_test_split(dataset_directory):
    return model.BatchLoader(dataset_directory, "test", batch_size=1, shuffle=False).arrays["history"]


def test_evaluation_compares_with_the_seasonal_naive_forecast_week_by_week(tiny_run, dataset_directory):
    result = model.evaluate(tiny_run, dataset_directory, "test")
    final = RunRecord.load(tiny_run).final_metrics
    assert result["windows"] == 197
    assert result["mean_absolute_error"] == pytest.approx(final["test_mean_absolute_error"])
    assert result["seasonal_naive_mean_absolute_error"] == final["test_seasonal_naive_mean_absolute_error"]
    assert (result["first_target_week"], result["last_target_week"]) == ("1998-01-03", "2001-12-29")
    assert [row["week_ahead"] for row in result["by_week_ahead"]] == list(range(1, model.HORIZON_WEEKS + 1))
    weekly = [row["mean_absolute_error"] for row in result["by_week_ahead"]]
    assert numpy.mean(weekly) == pytest.approx(result["mean_absolute_error"])
    assert result["root_mean_squared_error"] >= result["mean_absolute_error"]
    assert json.loads((tiny_run / "evaluation-test.json").read_text()) == result
    report = model.format_report(result)
    assert report.splitlines()[0] == "test: 197 windows, target weeks 1998-01-03 to 2001-12-29"
    assert len(report.splitlines()) == 3 + model.HORIZON_WEEKS


def test_errors_by_hand():
    history = numpy.tile(numpy.arange(model.WINDOW_WEEKS, dtype=numpy.float32), (2, 1))
    naive = model.seasonal_naive_forecast(history)
    target = naive + 2.0  # the seasonal-naive forecast misses by 2 ppm everywhere
    forecast = target.copy()
    forecast[0] += 0.5  # the model misses by 0.5 ppm in the first window and not at all in the second
    measured = model.measure_forecasts(forecast, target, history)
    assert measured["windows"] == 2
    assert measured["mean_absolute_error"] == pytest.approx(0.25)
    assert measured["root_mean_squared_error"] == pytest.approx(numpy.sqrt(0.125))
    assert measured["seasonal_naive_mean_absolute_error"] == pytest.approx(2.0)
    assert measured["improvement_over_seasonal_naive"] == pytest.approx(0.875)
    assert measured["by_week_ahead"][3] == {
        "week_ahead": 4,
        "mean_absolute_error": pytest.approx(0.25),
        "seasonal_naive_mean_absolute_error": pytest.approx(2.0),
    }


def test_the_report_says_whether_the_goal_is_met():
    result = {
        "split": "validation",
        "windows": 3,
        "first_target_week": "1994-01-01",
        "last_target_week": "1994-06-01",
        "mean_absolute_error": 1.5,
        "root_mean_squared_error": 2.0,
        "seasonal_naive_mean_absolute_error": 1.75,
        "improvement_over_seasonal_naive": 1 - 1.5 / 1.75,
        "by_week_ahead": [],
    }
    assert "improvement 14.3% (misses the goal of 20%)" in model.format_report(result)
    result["improvement_over_seasonal_naive"] = 0.25
    assert "improvement 25.0% (meets the goal of 20%)" in model.format_report(result)


def test_native_and_onnx_predictors_agree(tiny_run, exported, dataset_directory):
    native = model.load_native_predictor(tiny_run)
    onnx_predictor = model.load_onnx_predictor(exported.version_directory)
    assert isinstance(native, Predictor)
    assert isinstance(onnx_predictor, Predictor)
    history = history_of_test_split(dataset_directory)
    report = model.check_parity(native, onnx_predictor, history)
    assert report.passed
    assert report.identical_predictions
    assert report.examples == len(history)
    single = onnx_predictor.predict({"history": history[:1]})["forecast"]
    assert single.shape == (1, model.HORIZON_WEEKS)


def test_forecasts_move_with_the_level_of_the_window(tiny_run, dataset_directory):
    """The network reads the window relative to its last week, so a higher level gives a higher forecast."""
    native = model.load_native_predictor(tiny_run)
    history = history_of_test_split(dataset_directory)[:5]
    forecast = native.predict({"history": history})["forecast"]
    raised = native.predict({"history": history + numpy.float32(25.0)})["forecast"]
    assert numpy.allclose(raised - forecast, 25.0, atol=1e-3)


def test_a_predictor_that_disagrees_fails_the_parity_check(tiny_run, dataset_directory):
    native = model.load_native_predictor(tiny_run)
    shifted = model.load_native_predictor(tiny_run)
    with torch.no_grad():
        shifted.network.linear.bias += 0.001  # 0.01 ppm after the network's scaling
    history = history_of_test_split(dataset_directory)
    report = model.check_parity(native, shifted, history)
    assert report.largest_absolute_difference == pytest.approx(0.01, abs=1e-4)
    assert not report.identical_predictions
    assert not report.passed
    with pytest.raises(model.ZooError, match=r"identical forecasts at 0\.01 ppm: False"):
        model.require_parity(report, dataset_directory)
    assert model.check_parity(native, native, history).largest_absolute_difference == 0.0


def test_predictors_refuse_wrong_inputs(tiny_run, exported):
    native = model.load_native_predictor(tiny_run)
    with pytest.raises(ContractError, match="must have shape"):
        native.predict({"history": numpy.zeros((2, 52), numpy.float32)})
    with pytest.raises(ContractError, match="dtype float32"):
        native.predict({"history": numpy.zeros((2, model.WINDOW_WEEKS), numpy.float64)})
    with pytest.raises(ContractError, match="missing input 'history'"):
        model.load_onnx_predictor(exported.version_directory).predict({"pixels": numpy.zeros((1, 104))})


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_a_changed_onnx_file_is_refused
def test_a_changed_onnx_file_is_refused(exported, tmp_path):
    import shutil

    copy = tmp_path / "version"
    shutil.copytree(exported.version_directory, copy)
    with open(copy / "model.onnx", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ContractError, match="changed or corrupted after export"):
        model.load_onnx_predictor(copy)


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_an_unfinished_run_has_no_predictor
def test_an_unfinished_run_has_no_predictor(tiny_run_copy):
    RunRecord.load(tiny_run_copy).evolve(status="interrupted").save(tiny_run_copy)
    with pytest.raises(model.ZooError, match="train --resume"):
        model.load_native_predictor(tiny_run_copy)


def test_parity_failure_stops_the_export_with_figures(tmp_path):
    model.require_parity(ParityReport(10, 1e-5, 1e-3, True), tmp_path)
    with pytest.raises(model.ZooError, match=r"largest absolute difference 0.5 ppm \(allowed 0.001\)"):
        model.require_parity(ParityReport(10, 0.5, 1e-3, True), tmp_path)
    with pytest.raises(model.ZooError, match=f"Nothing was written to {tmp_path}"):
        model.require_parity(ParityReport(10, 0.0, 1e-3, False), tmp_path)


WEEKS = numpy.linspace(360.0, 372.0, model.WINDOW_WEEKS)


@pytest.mark.parametrize(
    ("array", "rows"),
    [
        (WEEKS, 1),
        (numpy.tile(WEEKS, (5, 1)).astype(numpy.float32), 5),
        (numpy.full(model.WINDOW_WEEKS, 370, dtype=numpy.int64), 1),
    ],
)
def test_numpy_inputs_of_every_accepted_shape(tmp_path, array, rows):
    path = tmp_path / "input.npy"
    numpy.save(path, array)
    read = model.read_prediction_input(path)
    assert read.shape == (rows, model.WINDOW_WEEKS)
    assert read.dtype == numpy.float32
    assert read.sum() == pytest.approx(float(array.sum()))


def test_csv_inputs_one_value_per_line_or_one_window_per_line(tmp_path):
    column = tmp_path / "column.csv"
    column.write_text("\n".join(f"{value:.2f}" for value in WEEKS) + "\n\n")
    read = model.read_prediction_input(column)
    assert read.shape == (1, model.WINDOW_WEEKS)
    assert read[0, -1] == numpy.float32(372.0)
    rows = tmp_path / "rows.CSV"
    rows.write_text("\n".join(",".join(f"{value:.3f}" for value in WEEKS + shift) for shift in (0, 1, 2)))
    read = model.read_prediction_input(rows)
    assert read.shape == (3, model.WINDOW_WEEKS)
    assert read[2, 0] == pytest.approx(362.0)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (WEEKS[:50], "50 weekly values, but the model reads exactly the last 104 weeks"),
        (numpy.zeros(0), "0 weekly values"),
        (
            numpy.tile(WEEKS[:52], (3, 1)),
            r"shape is \[3, 52\]; expected \[104\] for one window or \[n, 104\]",
        ),
        (numpy.ones((2, 2, model.WINDOW_WEEKS)), r"shape is \[2, 2, 104\]"),
        (numpy.zeros((0, model.WINDOW_WEEKS)), "holds no windows"),
        (
            numpy.where(numpy.arange(104) == 30, numpy.nan, WEEKS),
            "window 1, week 31 has no value.*fill missing",
        ),
        (WEEKS - 400.0, "positive ppm, found -40"),
        (numpy.array(["a"] * model.WINDOW_WEEKS), "holds <U1 values"),
    ],
)
def test_wrong_numpy_inputs_are_refused(tmp_path, array, message):
    path = tmp_path / "input.npy"
    numpy.save(path, array)
    with pytest.raises(model.ZooError, match=message):
        model.read_prediction_input(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("co2\n" + "\n".join(["370"] * 104), r"line 1: 'co2' is not a list of numbers.*without a header"),
        ("370,371\n372\n", r"different numbers of values \(1, 2\)"),
        ("370\n" * 103, "103 weekly values"),
        ("", "0 weekly values"),
        ("370\n,\n", "line 2"),
    ],
)
def test_wrong_csv_inputs_are_refused(tmp_path, text, message):
    path = tmp_path / "input.csv"
    path.write_text(text)
    with pytest.raises(model.ZooError, match=message):
        model.read_prediction_input(path)


def test_a_binary_csv_is_refused(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x81 not text")
    with pytest.raises(model.ZooError, match="not a text file"):
        model.read_prediction_input(path)


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_pickled_numpy_inputs_are_refused
def test_pickled_numpy_inputs_are_refused(tmp_path):
    path = tmp_path / "objects.npy"
    numpy.save(path, numpy.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(model.ZooError, match="cannot be read as a numpy array"):
        model.read_prediction_input(path)


def test_other_inputs_are_refused(tmp_path):
    with pytest.raises(model.ZooError, match="no such file"):
        model.read_prediction_input(tmp_path / "missing.npy")
    (tmp_path / "input.txt").write_text("1,2,3")
    with pytest.raises(model.ZooError, match=r"give a \.npy array or a \.csv file"):
        model.read_prediction_input(tmp_path / "input.txt")


def test_forecasts_are_described_to_the_hundredth_of_a_ppm():
    described = model.describe_forecasts(numpy.array([[370.123456, 371.0049], [1.0, 2.996]], numpy.float32))
    assert described == [[370.12, 371.0], [1.0, 3.0]]
