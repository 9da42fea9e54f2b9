"""The guarantees every model package gives, checked the same way for each (see README.md here)."""

import importlib
import json
import os
import sys
from pathlib import Path

import numpy
import pytest

from shared_contracts import (
    ArtifactManifest,
    DatasetManifest,
    ModelConfiguration,
    Predictor,
    RepositoryEntry,
    RunRecord,
    read_shard,
    sha256_file,
)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from zoo.discovery import discover_packages  # noqa: E402

PIPELINE_STEPS = ("prepare-data", "train", "evaluate", "export", "predict", "reproduce", "pipeline")


def models_under_test():
    """The model packages to check: the one whose environment this is, or every discovered one."""
    packages = [package for package in discover_packages(ROOT) if package.kind == "model"]
    selected = os.environ.get("ZOO_PACKAGE_DIRECTORY")
    if selected:
        packages = [
            package for package in packages if package.directory.resolve() == Path(selected).resolve()
        ]
    return packages


@pytest.fixture(scope="module", params=models_under_test(), ids=lambda package: package.name)
def package(request):
    return request.param


@pytest.fixture(scope="module")
def module(package):
    try:
        return importlib.import_module(package.module)
    except ModuleNotFoundError:  # only when run outside the package's own environment
        pytest.skip(
            f"{package.module} is not installed in this environment; run `tox -e {package.name}-py311`"
        )


@pytest.fixture(scope="module")
def workspace(module, tmp_path_factory):
    """Prepared data and two tiny runs with the same seed, through the model's own command line."""
    root = tmp_path_factory.mktemp(module.MODEL_NAME)
    folders = {
        "dataset": ["--dataset-directory", str(root / "dataset")],
        "runs": ["--runs-directory", str(root / "runs")],
        "repository": ["--model-repository", str(root / "repository")],
    }
    assert module.main(["prepare-data", *folders["dataset"]]) == 0
    for name in ("first", "second"):
        arguments = ["train", *module.TINY_TRAINING_OPTIONS, "--run-name", name, "--no-progress"]
        assert module.main([*arguments, *folders["dataset"], *folders["runs"]]) == 0
    return root, folders


def test_the_module_offers_the_conformance_interface(package, module):
    assert package.name == module.MODEL_NAME
    for name in (
        "Configuration",
        "TINY_TRAINING_OPTIONS",
        "load_native_predictor",
        "load_onnx_predictor",
        "main",
    ):
        assert hasattr(module, name), f"{package.module} must export {name} (see tests/conformance/README.md)"


def test_help_lists_every_pipeline_step(module, capsys):
    with pytest.raises(SystemExit) as stopped:
        module.main(["--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    for step in PIPELINE_STEPS:
        assert step in text


def test_a_tiny_run_writes_a_valid_record_and_safetensors_checkpoints(module, package, workspace):
    root, _ = workspace
    run_directory = root / "runs" / "first"
    record = RunRecord.load(run_directory)
    assert record.status == "completed"
    assert record.model_name == package.name
    assert record.model_version == package.version
    assert record.dataset_fingerprint == DatasetManifest.load(root / "dataset").fingerprint()
    assert record.lock_sha256 == sha256_file(package.directory / "uv.lock")
    assert record.epochs
    assert record.final_metrics
    assert record.checkpoints
    for checkpoint in record.checkpoints:
        path = run_directory / checkpoint.path
        assert sha256_file(path) == checkpoint.sha256
        header_length = int.from_bytes(path.read_bytes()[:8], "little")
        json.loads(path.read_bytes()[8 : 8 + header_length])  # a safetensors header, not a pickle
    for path in run_directory.rglob("*"):
        assert path.suffix not in {".pt", ".pth", ".pkl", ".pickle", ".ckpt"}, f"{path} may hold a pickle"


def test_two_runs_with_the_same_seed_are_bit_identical(workspace):
    root, _ = workspace
    first = RunRecord.load(root / "runs" / "first")
    second = RunRecord.load(root / "runs" / "second")
    assert [c.sha256 for c in first.checkpoints] == [c.sha256 for c in second.checkpoints]
    assert first.epochs == second.epochs
    assert first.final_metrics == second.final_metrics


@pytest.fixture(scope="module")
def exported(module, workspace):
    root, folders = workspace
    arguments = ["export", "--run", "first", *folders["dataset"], *folders["runs"], *folders["repository"]]
    assert module.main(arguments) == 0
    return RepositoryEntry(root / "repository", module.MODEL_NAME, 1)


def test_the_export_is_a_valid_repository_entry(module, exported):
    configuration = ModelConfiguration.load(exported.configuration_path)
    assert configuration.name == module.MODEL_NAME
    manifest = ArtifactManifest.load(exported.manifest_path)
    manifest.verify_onnx(exported.onnx_path)
    assert manifest.parity.passed
    assert manifest.model_name == module.MODEL_NAME
    assert [t.name for t in manifest.inputs] == [t.name for t in configuration.inputs]
    assert [t.name for t in manifest.outputs] == [t.name for t in configuration.outputs]
    assert all(t.shape[0] == -1 for t in (*manifest.inputs, *manifest.outputs)), "a dynamic batch dimension"
    assert sorted(p.name for p in exported.version_directory.iterdir()) == ["artifact.json", "model.onnx"]


def test_onnx_and_native_predictions_agree_on_the_test_split(module, workspace, exported):
    root, _ = workspace
    native = module.load_native_predictor(root / "runs" / "first")
    onnx_predictor = module.load_onnx_predictor(exported.version_directory)
    assert isinstance(native, Predictor)
    assert isinstance(onnx_predictor, Predictor)
    dataset = DatasetManifest.load(root / "dataset")
    shard = read_shard(root / "dataset", dataset.split("test").shards[0], dataset.features)
    inputs = {spec.name: shard[spec.name] for spec in onnx_predictor.input_specifications}
    expected = native.predict(inputs)
    actual = onnx_predictor.predict(inputs)
    tolerance = ArtifactManifest.load(exported.manifest_path).parity.tolerance
    for spec in onnx_predictor.output_specifications:
        assert numpy.abs(expected[spec.name] - actual[spec.name]).max() <= tolerance


def test_reproduce_verifies_the_tiny_run(module, workspace, capsys):
    _, folders = workspace
    arguments = [
        "reproduce",
        "first",
        "--allow-dirty",
        "--no-progress",
        *folders["dataset"],
        *folders["runs"],
    ]
    assert module.main(arguments) == 0
    assert '"reproduced": true' in capsys.readouterr().out


def test_the_committed_baseline_is_the_default_configuration(module, package):
    baseline = package.directory / "baseline"
    if not (baseline / "run.json").exists():
        pytest.skip(f"{package.name} has no baseline yet (a new model: refresh one with `refresh-baseline`)")
    record = RunRecord.load(baseline)
    assert record.model_name == package.name
    assert record.status == "completed"
    assert record.configuration == module.Configuration().to_dict()
