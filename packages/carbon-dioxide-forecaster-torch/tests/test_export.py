import numpy
import pytest
from carbon_dioxide_forecaster_torch import model

from shared_contracts import ArtifactManifest, ModelConfiguration, RunRecord, available_versions, sha256_file


def test_the_export_is_a_triton_repository_entry(exported, tiny_run):
    configuration = ModelConfiguration.load(exported.configuration_path)
    assert configuration.name == model.MODEL_NAME
    assert configuration.max_batch_size == model.MAX_BATCH_SIZE
    assert configuration.inputs == model.INPUT_SPECIFICATIONS
    assert configuration.outputs == model.OUTPUT_SPECIFICATIONS
    assert configuration.dynamic_batching is not None
    manifest = ArtifactManifest.load(exported.manifest_path)
    manifest.verify_onnx(exported.onnx_path)
    assert manifest.parity.passed
    assert manifest.parity.identical_predictions
    assert manifest.parity.largest_absolute_difference <= model.PARITY_TOLERANCE
    assert manifest.parity.examples == 197
    assert manifest.label_names == ()
    assert set(manifest.preprocessing) == {"input", "output", "parity"}
    assert "linear interpolation" in manifest.preprocessing["input"]
    assert manifest.run.record_sha256 == sha256_file(tiny_run / "run.json")
    assert manifest.metrics == RunRecord.load(tiny_run).final_metrics
    assert manifest.onnx_opset >= 17
    assert sorted(p.name for p in exported.version_directory.iterdir()) == ["artifact.json", "model.onnx"]


def test_one_self_contained_file_with_a_dynamic_batch_dimension(exported, tiny_run, dataset_directory):
    import onnx

    loaded = onnx.load(str(exported.onnx_path))
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in loaded.graph.initializer)
    batch = loaded.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param
    assert not batch.dim_value
    onnx_predictor = model.load_onnx_predictor(exported.version_directory)
    native = model.load_native_predictor(tiny_run)
    history = model.BatchLoader(dataset_directory, "train", batch_size=1, shuffle=False).arrays["history"]
    for size in (1, 3, 700):  # batches smaller and larger than the two windows the export traced
        forecast = onnx_predictor.predict({"history": history[:size]})["forecast"]
        assert forecast.shape == (size, model.HORIZON_WEEKS)
        expected = native.predict({"history": history[:size]})["forecast"]
        assert numpy.abs(forecast - expected).max() <= model.PARITY_TOLERANCE


# Copied from digits-classifier-torch:tests.test_export.test_versions_follow_each_other_and_existing_ones_are_kept
def test_versions_follow_each_other_and_existing_ones_are_kept(tiny_run, dataset_directory, tmp_path):
    repository = tmp_path / "repository"
    first = model.export(tiny_run, repository, dataset_directory=dataset_directory)
    second = model.export(tiny_run, repository, dataset_directory=dataset_directory)
    assert (first.version, second.version) == (1, 2)
    before = sha256_file(first.onnx_path)
    with pytest.raises(model.ZooError, match="exists; export to another --version"):
        model.export(tiny_run, repository, dataset_directory=dataset_directory, version=1)
    assert sha256_file(first.onnx_path) == before
    assert available_versions(repository / model.MODEL_NAME) == [1, 2]


# Copied from digits-classifier-torch:tests.test_export.test_a_failing_export_leaves_the_repository_unchanged
def test_a_failing_export_leaves_the_repository_unchanged(tiny_run, dataset_copy, tmp_path):
    for shard in (dataset_copy / "test").glob("*.npz"):
        shard.unlink()
    repository = tmp_path / "repository"
    with pytest.raises(Exception, match="shard file is missing"):
        model.export(tiny_run, repository, dataset_directory=dataset_copy)
    assert sorted(p.name for p in (repository / model.MODEL_NAME).iterdir()) == []


def test_an_export_that_fails_the_parity_check_writes_nothing(tiny_run, dataset_directory, tmp_path):
    repository = tmp_path / "repository"
    # No difference is at most a negative tolerance: the check fails whatever the two predictors computed.
    with pytest.raises(model.ZooError, match=r"disagrees with PyTorch.*allowed -1\)"):
        model.export(tiny_run, repository, dataset_directory=dataset_directory, tolerance=-1.0)
    assert list((repository / model.MODEL_NAME).iterdir()) == []


def test_verify_export_measures_the_onnx_model(exported, dataset_directory, tiny_run):
    verification = model.verify_export(exported, dataset_directory)
    final = RunRecord.load(tiny_run).final_metrics
    for metric in (
        "test_mean_absolute_error",
        "test_seasonal_naive_mean_absolute_error",
        "test_improvement_over_seasonal_naive",
    ):
        assert verification[metric] == pytest.approx(final[metric], abs=1e-5)
