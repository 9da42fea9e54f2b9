import sys

import mlflow
import pytest
from digits_classifier_jax import model

from shared_contracts import RunRecord


# Copied from digits-classifier-torch:tests.test_mlflow.test_a_run_is_logged_with_its_metrics_lineage_and_record
def test_a_run_is_logged_with_its_metrics_lineage_and_record(tiny_run, tmp_path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    identifier = model.log_to_mlflow(tiny_run, uri)
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(identifier)
    record = RunRecord.load(tiny_run)
    assert run.info.run_name == record.run_identifier
    assert run.info.status == "FINISHED"
    assert run.data.params == {name: str(value) for name, value in record.configuration.items()}
    history = client.get_metric_history(identifier, "validation_accuracy")
    assert [(point.step, point.value) for point in history] == [
        (epoch.epoch, epoch.metrics["validation_accuracy"]) for epoch in record.epochs
    ]
    assert run.data.metrics["final_test_accuracy"] == record.final_metrics["test_accuracy"]
    assert run.data.tags["zoo.dataset_fingerprint"] == record.dataset_fingerprint
    assert run.data.tags["zoo.lock_sha256"] == record.lock_sha256
    assert run.data.tags["zoo.code_dirty"] in ("true", "false")
    assert [artifact.path for artifact in client.list_artifacts(identifier)] == ["run.json"]
    second = model.log_to_mlflow(tiny_run, uri)  # the experiment exists now and is reused
    assert client.get_run(second).info.experiment_id == run.info.experiment_id


# Copied from digits-classifier-torch:tests.test_mlflow.test_the_exported_artifact_is_attached
def test_the_exported_artifact_is_attached(tiny_run, exported, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    identifier = model.log_to_mlflow(tiny_run, uri, exported)
    client = mlflow.MlflowClient(tracking_uri=uri)
    attached = {artifact.path for artifact in client.list_artifacts(identifier, "model-repository-entry")}
    assert attached == {
        "model-repository-entry/artifact.json",
        "model-repository-entry/model.onnx",
        "model-repository-entry/config.pbtxt",
    }


# Copied from digits-classifier-torch:tests.test_mlflow.test_an_unfinished_run_is_logged_as_failed_to_any_store
def test_an_unfinished_run_is_logged_as_failed_to_any_store(tiny_run_copy, tmp_path, monkeypatch):
    RunRecord.load(tiny_run_copy).evolve(status="failed").save(tiny_run_copy)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "file-store").as_uri()
    identifier = model.log_to_mlflow(tiny_run_copy, uri)
    assert mlflow.MlflowClient(tracking_uri=uri).get_run(identifier).info.status == "FAILED"


# Copied from digits-classifier-torch:tests.test_mlflow.test_the_default_store_lives_under_the_home
def test_the_default_store_lives_under_the_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    assert model.default_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"


# Copied from digits-classifier-torch:tests.test_mlflow.test_without_the_extra_the_error_says_how_to_install_it
def test_without_the_extra_the_error_says_how_to_install_it(tiny_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what Python does when a package is absent
    with pytest.raises(model.ZooError, match="uv sync --extra mlflow"):
        model.log_to_mlflow(tiny_run)


# Copied from digits-classifier-torch:tests.test_mlflow.test_train_and_pipeline_log_to_mlflow_from_the_command_line
def test_train_and_pipeline_log_to_mlflow_from_the_command_line(tmp_path, dataset_directory, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    folders = ["--dataset-directory", str(dataset_directory), "--runs-directory", str(tmp_path / "runs")]
    tracking = ["--mlflow", "--tracking-uri", uri, "--no-progress"]
    assert model.main(["train", *model.TINY_TRAINING_OPTIONS, *tracking, *folders]) == 0
    assert "logged to MLflow as run" in capsys.readouterr().out
    repository = ["--model-repository", str(tmp_path / "repository")]
    assert model.main(["pipeline", *model.TINY_TRAINING_OPTIONS, *tracking, *folders, *repository]) == 0
    assert "logged to MLflow as run" in capsys.readouterr().out
    runs = mlflow.MlflowClient(tracking_uri=uri).search_runs(
        [mlflow.MlflowClient(tracking_uri=uri).get_experiment_by_name(model.MODEL_NAME).experiment_id]
    )
    assert len(runs) == 2
