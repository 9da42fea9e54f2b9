"""Loading one model of a repository: its configuration, its versions, and an ONNX Runtime session each.

Everything a model is checked for happens here, once, at load, so that a request never meets a model that
cannot answer it: ``config.pbtxt`` must name an ONNX Runtime model whose folder it is in; every version the
version policy selects needs an ``artifact.json`` whose tensors are those of ``config.pbtxt`` and whose
SHA-256 matches ``model.onnx``; the ONNX graph's inputs and outputs must be those the configuration
declares. A version that fails a check is not ready and keeps the reason; the model's other versions, and
the repository's other models, are not affected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy
import onnxruntime

from shared_contracts import (
    ArtifactManifest,
    ContractError,
    ModelConfiguration,
    RepositoryEntry,
    TensorSpecification,
    available_versions,
)

ONNX_RUNTIME_BACKEND = "onnxruntime"
"""The Triton backend name of ONNX Runtime models, the only kind this server runs."""
ONNX_RUNTIME_PLATFORM = "onnxruntime_onnx"
"""Triton's platform name of ONNX Runtime models."""

_ONNX_RUNTIME_TYPES = {"float32": "tensor(float)", "float64": "tensor(double)"}

_THREAD_PARAMETERS = {
    "intra_op_thread_count": "intra_op_num_threads",
    "inter_op_thread_count": "inter_op_num_threads",
}


class ModelLoadError(Exception):
    """A model or a version that cannot be served, with the reason a user can act on."""


@dataclass
class VersionSession:
    """One loaded version: its manifest and its ONNX Runtime session, or why it is not ready."""

    version: int
    """The version folder's number."""
    manifest: ArtifactManifest | None = None
    """The version's artifact manifest, when it could be read."""
    session: onnxruntime.InferenceSession | None = None
    """The ONNX Runtime session, or ``None`` when the version was refused."""
    reason: str = ""
    """Why the version is not ready (empty when it is)."""

    @property
    def ready(self) -> bool:
        """Whether the version can answer requests."""
        return self.session is not None


@dataclass
class LoadedModel:
    """A model read from the repository: its configuration and the versions its policy selects."""

    name: str
    """The model's name, its folder in the repository."""
    configuration: ModelConfiguration
    """The model's ``config.pbtxt``."""
    versions: dict[int, VersionSession] = field(default_factory=dict)
    """The selected versions, ready or not, by number."""
    input_specifications: dict[str, TensorSpecification] = field(init=False)
    """The configuration's inputs, by name."""
    output_specifications: dict[str, TensorSpecification] = field(init=False)
    """The configuration's outputs, by name."""

    def __post_init__(self) -> None:
        self.input_specifications = {each.name: each for each in self.configuration.inputs}
        self.output_specifications = {each.name: each for each in self.configuration.outputs}

    @property
    def ready_versions(self) -> list[int]:
        """The versions that can answer requests, highest first."""
        return sorted((number for number, each in self.versions.items() if each.ready), reverse=True)


def session_options(configuration: ModelConfiguration) -> onnxruntime.SessionOptions:
    """ONNX Runtime's options from the configuration's parameters (``intra_op_thread_count``, ...)."""
    options = onnxruntime.SessionOptions()
    for parameter, attribute in _THREAD_PARAMETERS.items():
        if parameter not in configuration.parameters:
            continue
        text = configuration.parameters[parameter]
        if not (text.strip().isascii() and text.strip().isdigit()):
            raise ModelLoadError(
                f"the parameter {parameter!r} of config.pbtxt must be a whole number of threads "
                f"(0 lets ONNX Runtime choose), found {text!r}"
            )
        setattr(options, attribute, int(text))
    return options


def load_model(repository: Path, name: str) -> LoadedModel:
    """Read and check one model of the repository; raises :class:`ModelLoadError` for the whole model.

    A failure of one version (a missing or mismatching manifest, a changed ``model.onnx``) does not raise:
    that version is kept as not ready with its reason.
    """
    directory = repository / name
    if not directory.is_dir():
        raise ModelLoadError(
            f"the model repository {repository} has no folder {name!r}; export the model there first"
        )
    try:
        RepositoryEntry(repository, name, 1)
        configuration = ModelConfiguration.load(directory / "config.pbtxt")
    except ContractError as error:
        raise ModelLoadError(str(error)) from None
    if configuration.name != name:
        raise ModelLoadError(
            f"config.pbtxt names the model {configuration.name!r}, but it is in the folder {name!r}; "
            "the name and the folder must be the same"
        )
    if configuration.backend != ONNX_RUNTIME_BACKEND or configuration.platform not in (
        None,
        ONNX_RUNTIME_PLATFORM,
    ):
        raise ModelLoadError(
            f"config.pbtxt asks for the backend {configuration.backend!r} (platform "
            f"{configuration.platform!r}); this server runs ONNX Runtime models only (backend "
            f"{ONNX_RUNTIME_BACKEND!r})"
        )
    options = session_options(configuration)
    versions = configuration.version_policy.select(available_versions(directory))
    if not versions:
        raise ModelLoadError(
            f"the folder {directory} has no version folder that the version policy "
            f"({configuration.version_policy.kind}) selects; export a version into {directory}/1"
        )
    model = LoadedModel(name, configuration)
    for version in versions:
        model.versions[version] = _load_version(
            RepositoryEntry(repository, name, version), configuration, options
        )
    return model


def _load_version(
    entry: RepositoryEntry, configuration: ModelConfiguration, options: onnxruntime.SessionOptions
) -> VersionSession:
    loaded = VersionSession(entry.version)
    try:
        manifest = ArtifactManifest.load(entry.manifest_path)
        loaded.manifest = manifest
        _check_manifest(manifest, configuration)
        manifest.verify_onnx(entry.onnx_path)
        session = onnxruntime.InferenceSession(
            os.fspath(entry.onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        _check_session(session, configuration)
    except (ContractError, ModelLoadError) as error:
        loaded.reason = str(error)
    except Exception as error:  # ONNX Runtime's own exceptions for a file it cannot load
        loaded.reason = f"ONNX Runtime cannot load {entry.onnx_path}: {error}"
    else:
        loaded.session = session
    return loaded


def _check_manifest(manifest: ArtifactManifest, configuration: ModelConfiguration) -> None:
    for what, declared, recorded in (
        ("inputs", configuration.inputs, manifest.inputs),
        ("outputs", configuration.outputs, manifest.outputs),
    ):
        if tuple(declared) != tuple(recorded):
            raise ModelLoadError(
                f"the {what} of artifact.json ({_describe(recorded)}) differ from those of config.pbtxt "
                f"({_describe(declared)}); export the model again so that both describe the same tensors"
            )


def _describe(tensors: tuple[TensorSpecification, ...]) -> str:
    return ", ".join(tensor.describe() for tensor in tensors)


def _onnx_runtime_type(specification: TensorSpecification) -> str:
    return _ONNX_RUNTIME_TYPES.get(specification.dtype, f"tensor({specification.dtype})")


def _check_session(session: onnxruntime.InferenceSession, configuration: ModelConfiguration) -> None:
    graph_inputs = {each.name: each for each in session.get_inputs()}
    graph_outputs = {each.name: each for each in session.get_outputs()}
    declared_inputs = {each.name for each in configuration.inputs}
    if set(graph_inputs) != declared_inputs:
        raise ModelLoadError(
            f"model.onnx takes the inputs {sorted(graph_inputs)}, but config.pbtxt declares "
            f"{sorted(declared_inputs)}"
        )
    for what, graph, declared in (
        ("input", graph_inputs, configuration.inputs),
        ("output", graph_outputs, configuration.outputs),
    ):
        for specification in declared:
            node = graph.get(specification.name)
            if node is None:
                raise ModelLoadError(
                    f"config.pbtxt declares the output {specification.name!r}, but model.onnx has only "
                    f"{sorted(graph)}"
                )
            expected_type = _onnx_runtime_type(specification)
            if node.type != expected_type:
                raise ModelLoadError(
                    f"the {what} {specification.name!r} of model.onnx is {node.type}, but config.pbtxt "
                    f"declares {specification.configuration_data_type} ({expected_type})"
                )
            if not _shapes_compatible(node.shape, specification.shape):
                raise ModelLoadError(
                    f"the {what} {specification.name!r} of model.onnx has the shape {node.shape}, which "
                    f"does not fit {list(specification.shape)} of config.pbtxt"
                )


def _shapes_compatible(graph_shape: list[int | str | None], declared: tuple[int, ...]) -> bool:
    if len(graph_shape) != len(declared):
        return False
    return all(
        not isinstance(fixed, int) or size == -1 or fixed == size
        for fixed, size in zip(graph_shape, declared, strict=True)
    )


def run_session(
    session: onnxruntime.InferenceSession, output_names: list[str], inputs: dict[str, numpy.ndarray]
) -> dict[str, numpy.ndarray]:
    """Run a session on one batch; returns every named output."""
    results = session.run(output_names, inputs)
    return dict(zip(output_names, results, strict=True))
