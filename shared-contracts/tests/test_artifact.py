"""The exporter -> deployer boundary: repository entry paths, version folders and the artifact manifest."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from contract_builders import make_artifact_manifest

from shared_contracts import (
    ARTIFACT_MANIFEST_FILE_NAME,
    CONTRACTS_VERSION,
    MODEL_CONFIGURATION_FILE_NAME,
    ONNX_FILE_NAME,
    ArtifactManifest,
    ContractError,
    ParityReport,
    RepositoryEntry,
    TensorSpecification,
    available_versions,
    sha256_bytes,
)


def test_a_repository_entry_lays_out_triton_s_folders(tmp_path):
    entry = RepositoryEntry(tmp_path, "digits-classifier_torch.v2", 3)
    assert entry.model_directory == tmp_path / "digits-classifier_torch.v2"
    assert entry.configuration_path == tmp_path / "digits-classifier_torch.v2" / MODEL_CONFIGURATION_FILE_NAME
    assert entry.version_directory == tmp_path / "digits-classifier_torch.v2" / "3"
    assert entry.onnx_path == tmp_path / "digits-classifier_torch.v2" / "3" / ONNX_FILE_NAME
    assert entry.manifest_path == tmp_path / "digits-classifier_torch.v2" / "3" / ARTIFACT_MANIFEST_FILE_NAME
    assert (MODEL_CONFIGURATION_FILE_NAME, ONNX_FILE_NAME, ARTIFACT_MANIFEST_FILE_NAME) == (
        "config.pbtxt",
        "model.onnx",
        "artifact.json",
    )
    assert RepositoryEntry(str(tmp_path), "m", 1).model_directory == Path(tmp_path) / "m"


@pytest.mark.parametrize("name", ["", "-leading", ".hidden", "has space", "a/b", "..", "name\n", "modèle", 7])
def test_a_repository_entry_refuses_a_bad_folder_name(tmp_path, name):
    with pytest.raises(ContractError, match="cannot be a model folder name") as caught:
        RepositoryEntry(tmp_path, name, 1)
    assert caught.value.field == "model_name"


@pytest.mark.parametrize("version", [0, -1, True, 1.0, "1"])
def test_a_repository_entry_refuses_a_version_that_is_not_a_positive_whole_number(tmp_path, version):
    with pytest.raises(ContractError, match="must be a whole number from 1") as caught:
        RepositoryEntry(tmp_path, "model", version)
    assert caught.value.field == "version"


def test_available_versions_lists_version_folders_in_ascending_order(tmp_path):
    model = tmp_path / "model"
    for name in ("10", "2", "1", "0", "007", "²", "latest", "-3"):
        (model / name).mkdir(parents=True)
    (model / "5").write_text("a file, not a version folder")
    (model / MODEL_CONFIGURATION_FILE_NAME).write_text('name: "model"')
    assert available_versions(model) == [1, 2, 10]
    assert available_versions(str(model)) == [1, 2, 10]


def test_available_versions_of_a_missing_folder_is_empty(tmp_path):
    assert available_versions(tmp_path / "absent") == []
    (tmp_path / "file").write_text("")
    assert available_versions(tmp_path / "file") == []


def test_the_manifest_round_trips_through_a_file(tmp_path):
    manifest = make_artifact_manifest()
    entry = RepositoryEntry(tmp_path, manifest.model_name, 1)
    assert manifest.save(entry.manifest_path) == entry.manifest_path
    loaded = ArtifactManifest.load(entry.manifest_path)
    assert loaded == manifest
    assert loaded.contracts_version == CONTRACTS_VERSION
    assert loaded.label_names[3] == "3"
    assert loaded.parity.passed


def test_the_json_form_round_trips_through_text_and_states_the_parity_result():
    manifest = make_artifact_manifest()
    data = json.loads(json.dumps(manifest.to_dict()))
    assert data["parity"]["passed"] is True
    assert data["inputs"] == [{"name": "pixels", "dtype": "float32", "shape": [-1, 64]}]
    assert ArtifactManifest.from_dict(data) == manifest


def test_optional_fields_may_be_left_out():
    data = make_artifact_manifest().to_dict()
    for optional in ("label_names", "preprocessing", "metrics"):
        del data[optional]
    manifest = ArtifactManifest.from_dict(data)
    assert (manifest.label_names, manifest.preprocessing, manifest.metrics) == ((), {}, {})


@pytest.mark.parametrize(
    ("identical", "difference", "passed"),
    [(True, 1e-5, True), (True, 1e-4, True), (True, 2e-4, False), (False, 0.0, False)],
)
def test_parity_passes_only_with_identical_decisions_within_the_tolerance(identical, difference, passed):
    report = ParityReport(
        examples=8, largest_absolute_difference=difference, tolerance=1e-4, identical_predictions=identical
    )
    assert report.passed is passed
    assert report.to_dict()["passed"] is passed


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"inputs": ()}, "inputs", "needs at least one tensor"),
        ({"outputs": ()}, "outputs", "needs at least one tensor"),
        (
            {"outputs": (TensorSpecification("pixels", "float32", (-1, 64)),)},
            "outputs",
            "tensor names must be unique across inputs and outputs, found ['pixels', 'pixels']",
        ),
        (
            {"inputs": (TensorSpecification("pixels", "float32", (-1, 64)),) * 2},
            "inputs",
            "found ['pixels', 'pixels', 'logits', 'label']",
        ),
    ],
)
def test_a_manifest_refuses_missing_or_repeated_tensors(changes, field, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        make_artifact_manifest(**changes)
    assert caught.value.field == field


REMOVE = object()


def changed(path, value):
    data = copy.deepcopy(make_artifact_manifest().to_dict())
    container = data
    for key in path[:-1]:
        container = container[key]
    if value is REMOVE:
        del container[path[-1]]
    else:
        container[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        *(
            ((name,), REMOVE, name, "is missing")
            for name in (
                "model_name",
                "model_version",
                "inputs",
                "outputs",
                "onnx_sha256",
                "onnx_opset",
                "run",
                "parity",
                "contracts_version",
            )
        ),
        (("inputs",), [], "inputs", "needs at least one tensor"),
        (("outputs",), [], "outputs", "needs at least one tensor"),
        (("outputs", 1, "name"), "logits", "outputs", "tensor names must be unique"),
        (("inputs", 0, "dtype"), "float8", "inputs[0].dtype", "unsupported dtype 'float8'"),
        (("outputs", 0, "shape"), [-1, -5], "outputs[0].shape", "invalid shape [-1, -5]"),
        (("onnx_sha256",), "sha256:abc", "onnx_sha256", "must be a SHA-256 digest"),
        (("onnx_opset",), "17", "onnx_opset", "must be an integer, found '17'"),
        (("run",), "runs/1", "run", "must be an object, found 'runs/1'"),
        (("run", "record_sha256"), "0" * 65, "run.record_sha256", "must be a SHA-256 digest"),
        (("run", "dataset_fingerprint"), REMOVE, "run.dataset_fingerprint", "is missing"),
        (("run", "run_identifier"), 3, "run.run_identifier", "must be a string, found 3"),
        (("parity", "examples"), 3.5, "parity.examples", "must be an integer, found 3.5"),
        (("parity", "tolerance"), "small", "parity.tolerance", "must be a number"),
        (("parity", "identical_predictions"), REMOVE, "parity.identical_predictions", "is missing"),
        (("label_names",), ["zero", 1], "label_names[1]", "must be a string, found 1"),
        (("preprocessing",), ["scale"], "preprocessing", "must be an object"),
        (("metrics",), {"accuracy": "high"}, "metrics.accuracy", "must be a number, found 'high'"),
        (("contracts_version",), "3.1.4", "contracts_version", "upgrade shared-contracts to read this file"),
    ],
)
def test_load_refuses_a_bad_manifest_naming_the_file_and_the_field(tmp_path, path, value, field, message):
    file = tmp_path / ARTIFACT_MANIFEST_FILE_NAME
    file.write_text(json.dumps(changed(path, value)))
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        ArtifactManifest.load(file)
    assert caught.value.source == str(file)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{file}, field '{field}': ")


def test_from_dict_without_a_source_names_the_field():
    with pytest.raises(ContractError) as caught:
        ArtifactManifest.from_dict(changed(("outputs",), []))
    assert caught.value.source is None
    assert str(caught.value) == "field 'outputs': needs at least one tensor"


def test_a_missing_corrupt_or_non_object_manifest_is_refused(tmp_path):
    file = tmp_path / ARTIFACT_MANIFEST_FILE_NAME
    with pytest.raises(ContractError, match="the artifact manifest does not exist"):
        ArtifactManifest.load(file)
    file.write_text('{"model_name": ')
    with pytest.raises(ContractError, match="the artifact manifest is not valid JSON"):
        ArtifactManifest.load(file)
    file.write_text('"model"')
    with pytest.raises(ContractError, match="expected a JSON object, found str"):
        ArtifactManifest.load(file)


def test_verify_onnx_accepts_the_recorded_file_and_refuses_a_changed_or_missing_one(tmp_path):
    onnx = tmp_path / ONNX_FILE_NAME
    onnx.write_bytes(b"onnx")
    manifest = make_artifact_manifest(onnx_sha256=sha256_bytes(b"onnx"))
    manifest.verify_onnx(onnx)
    manifest.verify_onnx(str(onnx))
    onnx.write_bytes(b"onnx, changed after export")
    with pytest.raises(
        ContractError, match=r"changed or corrupted after export\. Export the model again"
    ) as caught:
        manifest.verify_onnx(onnx)
    assert caught.value.source == str(onnx)
    assert sha256_bytes(b"onnx, changed after export") in caught.value.reason
    onnx.unlink()
    with pytest.raises(ContractError, match="the ONNX model file is missing; export the model again"):
        manifest.verify_onnx(onnx)
    onnx.mkdir()
    with pytest.raises(ContractError, match="the ONNX model file is missing"):
        manifest.verify_onnx(onnx)
