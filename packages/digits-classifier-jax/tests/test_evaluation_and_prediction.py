import json

import numpy
import pytest
from digits_classifier_jax import model
from PIL import Image

from shared_contracts import ContractError, Predictor, RunRecord


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_evaluation_reports_every_class
def test_evaluation_reports_every_class(tiny_run, dataset_directory):
    result = model.evaluate(tiny_run, dataset_directory, "test")
    assert result["examples"] == sum(scores["support"] for scores in result["classes"].values())
    assert list(result["classes"]) == list(model.CLASS_NAMES)
    assert result["accuracy"] == pytest.approx(RunRecord.load(tiny_run).final_metrics["test_accuracy"])
    assert json.loads((tiny_run / "evaluation-test.json").read_text()) == result
    report = model.format_report(result)
    assert report.splitlines()[0].startswith(f"test: {result['examples']} examples")
    assert len(report.splitlines()) == 12


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_classification_report_by_hand
def test_classification_report_by_hand():
    labels = numpy.array([0, 0, 1, 1, 2])
    predictions = numpy.array([0, 1, 1, 1, 0])
    report = model.classification_report(labels, predictions)
    assert report["0"] == {"precision": 0.5, "recall": 0.5, "f1_score": 0.5, "support": 2}
    assert report["1"]["precision"] == pytest.approx(2 / 3)
    assert report["1"]["recall"] == 1.0
    assert report["2"] == {"precision": 0.0, "recall": 0.0, "f1_score": 0.0, "support": 1}
    assert report["9"] == {"precision": 0.0, "recall": 0.0, "f1_score": 0.0, "support": 0}


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_native_and_onnx_predictors_agree
def test_native_and_onnx_predictors_agree(tiny_run, exported, dataset_directory):
    native = model.load_native_predictor(tiny_run)
    onnx_predictor = model.load_onnx_predictor(exported.version_directory)
    assert isinstance(native, Predictor)
    assert isinstance(onnx_predictor, Predictor)
    pixels = model.BatchLoader(dataset_directory, "test", batch_size=1, shuffle=False).arrays["pixels"]
    report = model.check_parity(native, onnx_predictor, pixels)
    assert report.passed
    assert report.examples == len(pixels)
    single = onnx_predictor.predict({"pixels": pixels[:1]})["logits"]
    assert single.shape == (1, 10)


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_predictors_refuse_wrong_inputs
def test_predictors_refuse_wrong_inputs(tiny_run, exported):
    native = model.load_native_predictor(tiny_run)
    with pytest.raises(ContractError, match="must have shape"):
        native.predict({"pixels": numpy.zeros((2, 63), numpy.float32)})
    with pytest.raises(ContractError, match="dtype float32"):
        native.predict({"pixels": numpy.zeros((2, 64), numpy.float64)})
    with pytest.raises(ContractError, match="missing input 'pixels'"):
        model.load_onnx_predictor(exported.version_directory).predict({"images": numpy.zeros((1, 64))})


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


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_parity_failure_stops_the_export_with_figures
def test_parity_failure_stops_the_export_with_figures(tmp_path):
    from shared_contracts import ParityReport

    model.require_parity(ParityReport(10, 1e-6, 1e-4, True), tmp_path)
    with pytest.raises(model.ZooError, match=r"largest absolute difference 0.5 \(allowed 0.0001\)"):
        model.require_parity(ParityReport(10, 0.5, 1e-4, True), tmp_path)
    with pytest.raises(model.ZooError, match="identical predicted classes: False"):
        model.require_parity(ParityReport(10, 0.0, 1e-4, False), tmp_path)


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_numpy_inputs_of_every_accepted_shape
@pytest.mark.parametrize(
    ("array", "rows"),
    [
        (numpy.full(64, 3.0), 1),
        (numpy.full((5, 64), 16, dtype=numpy.int64), 5),
        (numpy.zeros((8, 8)), 1),
        (numpy.ones((4, 8, 8), numpy.float32), 4),
    ],
)
def test_numpy_inputs_of_every_accepted_shape(tmp_path, array, rows):
    path = tmp_path / "input.npy"
    numpy.save(path, array)
    read = model.read_prediction_input(path)
    assert read.shape == (rows, 64)
    assert read.dtype == numpy.float32
    assert read.sum() == pytest.approx(float(array.sum()))


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_wrong_numpy_inputs_are_refused
@pytest.mark.parametrize(
    ("array", "message"),
    [
        (numpy.zeros((3, 7)), r"shape is \[3, 7\]; expected \[64\], \[n, 64\], \[8, 8\] or \[n, 8, 8\]"),
        (numpy.zeros((0, 64)), "holds no images"),
        (numpy.full(64, 17.0), "between 0 and 16"),
        (numpy.full(64, -1.0), "between 0 and 16"),
        (numpy.array(["a"] * 64), "holds <U1 values"),
    ],
)
def test_wrong_numpy_inputs_are_refused(tmp_path, array, message):
    path = tmp_path / "input.npy"
    numpy.save(path, array)
    with pytest.raises(model.ZooError, match=message):
        model.read_prediction_input(path)


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_pickled_numpy_inputs_are_refused
def test_pickled_numpy_inputs_are_refused(tmp_path):
    path = tmp_path / "objects.npy"
    numpy.save(path, numpy.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(model.ZooError, match="cannot be read as a numpy array"):
        model.read_prediction_input(path)


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_png_inputs
def test_png_inputs(tmp_path):
    pixels = numpy.full((8, 8), 255, numpy.uint8)
    pixels[2:6, 3] = 0  # a dark vertical stroke on white
    Image.fromarray(pixels, mode="L").save(tmp_path / "one.png")
    read = model.read_prediction_input(tmp_path / "one.png")
    assert read.shape == (1, 64)
    assert read.max() == 16.0
    assert read.min() == 0.0
    assert read.reshape(8, 8)[3, 3] == 16.0
    Image.fromarray(numpy.zeros((10, 12), numpy.uint8), mode="L").save(tmp_path / "large.png")
    with pytest.raises(model.ZooError, match="the image is 12x10 pixels"):
        model.read_prediction_input(tmp_path / "large.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(model.ZooError, match="cannot be read as a PNG"):
        model.read_prediction_input(tmp_path / "broken.png")


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_other_inputs_are_refused
def test_other_inputs_are_refused(tmp_path):
    with pytest.raises(model.ZooError, match="no such file"):
        model.read_prediction_input(tmp_path / "missing.npy")
    (tmp_path / "input.csv").write_text("1,2,3")
    with pytest.raises(model.ZooError, match=r"give a \.npy array or an 8x8 \.png"):
        model.read_prediction_input(tmp_path / "input.csv")


# Copied from digits-classifier-torch:tests.test_evaluation_and_prediction.test_describe_predictions
def test_describe_predictions():
    logits = numpy.array([[0.0, 5.0] + [0.0] * 8, [9.0] + [0.0] * 9], numpy.float32)
    described = model.describe_predictions(logits)
    assert [row["digit"] for row in described] == ["1", "0"]
    assert 0.9 < described[0]["probability"] < 1.0
