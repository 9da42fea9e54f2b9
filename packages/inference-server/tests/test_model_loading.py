"""What a model is checked for at load, and the reason given when it is refused."""

from __future__ import annotations

import json

import pytest
from inference_server.model import ModelLoadError, load_model
from server_support import (
    ModelSpecification,
    classifier,
    classifier_model,
    doubling_model,
    tensor,
    write_model,
)

from shared_contracts import RepositoryEntry, VersionPolicy, sha256_file


def test_a_good_model_loads_with_every_selected_version(tmp_path):
    write_model(tmp_path, classifier(parameters={"intra_op_thread_count": "1", "inter_op_thread_count": "1"}))
    loaded = load_model(tmp_path, "classifier")
    assert loaded.ready_versions == [1]
    assert loaded.versions[1].ready
    assert loaded.versions[1].manifest.label_names[0] == "digit 0"
    assert set(loaded.input_specifications) == {"pixels"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda folder: (folder / "config.pbtxt").unlink(), "the model configuration does not exist"),
        (lambda folder: (folder / "config.pbtxt").write_bytes(b"name: \xff\xfe"), "cannot be read"),
        (lambda folder: (folder / "config.pbtxt").write_text("name: {"), "expected '}'"),
        (
            lambda folder: (folder / "config.pbtxt").write_text(
                (folder / "config.pbtxt").read_text().replace('name: "classifier"', 'name: "other"')
            ),
            "config.pbtxt names the model 'other', but it is in the folder 'classifier'",
        ),
        (
            lambda folder: (folder / "config.pbtxt").write_text(
                (folder / "config.pbtxt").read_text().replace('backend: "onnxruntime"', 'backend: "pytorch"')
            ),
            "this server runs ONNX Runtime models only",
        ),
        (
            lambda folder: (folder / "config.pbtxt").write_text(
                (folder / "config.pbtxt").read_text() + 'platform: "tensorflow_savedmodel"\n'
            ),
            "platform 'tensorflow_savedmodel'",
        ),
        (
            lambda folder: (folder / "config.pbtxt").write_text(
                (folder / "config.pbtxt").read_text().replace('string_value: "1"', 'string_value: "\u00b2"')
            ),
            "must be a whole number of threads",
        ),
        (
            lambda folder: (folder / "1").rename(folder / "old"),
            "has no version folder that the version policy",
        ),
    ],
)
def test_a_model_that_cannot_load_at_all_says_why(tmp_path, change, message):
    write_model(tmp_path, classifier())
    change(tmp_path / "classifier")
    with pytest.raises(ModelLoadError) as raised:
        load_model(tmp_path, "classifier")
    assert message in str(raised.value)


def test_a_missing_folder_and_a_bad_name_are_refused(tmp_path):
    with pytest.raises(ModelLoadError, match="has no folder 'absent'"):
        load_model(tmp_path, "absent")
    (tmp_path / "-bad").mkdir()
    with pytest.raises(ModelLoadError, match="cannot be a model folder name"):
        load_model(tmp_path, "-bad")


def rewrite_manifest(entry: RepositoryEntry, **changes) -> None:
    document = json.loads(entry.manifest_path.read_text())
    document.update(changes)
    entry.manifest_path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda entry: entry.manifest_path.unlink(), "the artifact manifest does not exist"),
        (lambda entry: entry.onnx_path.unlink(), "the ONNX model file is missing"),
        (
            lambda entry: entry.onnx_path.write_bytes(entry.onnx_path.read_bytes()[:-1]),
            "the ONNX model's SHA-256 is",
        ),
        (
            lambda entry: rewrite_manifest(
                entry, inputs=[{"name": "pixels", "dtype": "float64", "shape": [-1, 64]}]
            ),
            "the inputs of artifact.json ('pixels' float64 [-1, 64]) differ from those of config.pbtxt",
        ),
        (
            lambda entry: rewrite_manifest(
                entry, outputs=[{"name": "logits", "dtype": "float32", "shape": [-1, 10]}]
            ),
            "the outputs of artifact.json",
        ),
        (
            lambda entry: (
                entry.onnx_path.write_bytes(b"not an onnx file"),
                rewrite_manifest(entry, onnx_sha256=sha256_file(entry.onnx_path)),
            ),
            "ONNX Runtime cannot load",
        ),
    ],
)
def test_a_version_that_fails_a_check_is_not_ready_and_keeps_the_reason(tmp_path, change, message):
    write_model(tmp_path, classifier())
    change(RepositoryEntry(tmp_path, "classifier", 1))
    loaded = load_model(tmp_path, "classifier")
    assert loaded.ready_versions == []
    assert not loaded.versions[1].ready
    assert message in loaded.versions[1].reason


def graph_mismatch(name: str, inputs, outputs, graph=None) -> ModelSpecification:
    return ModelSpecification(name, {1: graph or classifier_model()}, inputs, outputs, max_batch_size=8)


@pytest.mark.parametrize(
    ("specification", "message"),
    [
        (
            graph_mismatch(
                "names", (tensor("image", "float32", [-1, 64]),), (tensor("logits", "float32", [-1, 10]),)
            ),
            "model.onnx takes the inputs ['pixels'], but config.pbtxt declares ['image']",
        ),
        (
            graph_mismatch(
                "types", (tensor("pixels", "float64", [-1, 64]),), (tensor("logits", "float32", [-1, 10]),)
            ),
            "the input 'pixels' of model.onnx is tensor(float), but config.pbtxt declares TYPE_FP64",
        ),
        (
            graph_mismatch(
                "shapes", (tensor("pixels", "float32", [-1, 32]),), (tensor("logits", "float32", [-1, 10]),)
            ),
            "the input 'pixels' of model.onnx has the shape ['batch', 64], which does not fit [-1, 32]",
        ),
        (
            graph_mismatch(
                "ranks", (tensor("pixels", "float32", [-1, 64, 1]),), (tensor("logits", "float32", [-1, 10]),)
            ),
            "does not fit [-1, 64, 1]",
        ),
        (
            graph_mismatch(
                "outputs", (tensor("pixels", "float32", [-1, 64]),), (tensor("scores", "float32", [-1, 10]),)
            ),
            "config.pbtxt declares the output 'scores', but model.onnx has only ['logits', 'probabilities']",
        ),
        (
            graph_mismatch(
                "output_types",
                (tensor("pixels", "float32", [-1, 64]),),
                (tensor("logits", "int64", [-1, 10]),),
            ),
            "the output 'logits' of model.onnx is tensor(float), but config.pbtxt declares TYPE_INT64",
        ),
    ],
)
def test_a_graph_that_differs_from_its_configuration_is_refused(tmp_path, specification, message):
    write_model(tmp_path, specification)
    loaded = load_model(tmp_path, specification.name)
    assert message in loaded.versions[1].reason


def test_versions_follow_the_policy_and_the_platform_name_is_accepted(tmp_path):
    specification = ModelSpecification(
        "doubler",
        {1: doubling_model(), 2: doubling_model(), 3: doubling_model()},
        (tensor("x", "float32", [4]),),
        (tensor("y", "float32", [4]),),
        version_policy=VersionPolicy("latest", count=2),
    )
    write_model(tmp_path, specification)
    configuration = tmp_path / "doubler" / "config.pbtxt"
    configuration.write_text(
        configuration.read_text().replace('backend: "onnxruntime"', 'platform: "onnxruntime_onnx"')
    )
    assert load_model(tmp_path, "doubler").ready_versions == [3, 2]
