"""The exporter -> deployer boundary: a Triton-compatible model repository entry and its manifest.

An export writes::

    <repository>/<model>/config.pbtxt
    <repository>/<model>/<version>/model.onnx       one self-contained file
    <repository>/<model>/<version>/artifact.json    this module's ArtifactManifest

NVIDIA Triton, KServe and this project's server all read the same folder unchanged; the manifest adds what
they do not need but a deployer wants: label names, preprocessing, metrics, the run that produced the model,
the SHA-256 of ``model.onnx`` and the parity check that the export passed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared_contracts._fields import FieldReader
from shared_contracts.atomic import read_json, write_json_atomically
from shared_contracts.errors import ContractError
from shared_contracts.hashing import sha256_file
from shared_contracts.model_configuration import MODEL_CONFIGURATION_FILE_NAME
from shared_contracts.tensors import TensorSpecification
from shared_contracts.version import CONTRACTS_VERSION

ARTIFACT_MANIFEST_FILE_NAME = "artifact.json"
"""The artifact manifest's file name inside a version folder."""

ONNX_FILE_NAME = "model.onnx"
"""The model file's name inside a version folder, as Triton's ONNX Runtime backend expects it."""

_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_VERSION_FOLDER_NAME = re.compile(r"[1-9][0-9]*")


@dataclass(frozen=True)
class RepositoryEntry:
    """The paths of one model version inside a model repository."""

    repository: Path
    """The model repository's root folder."""
    model_name: str
    """The model's folder name."""
    version: int
    """The version folder's number."""

    def __post_init__(self) -> None:
        if not isinstance(self.model_name, str) or not _MODEL_NAME.fullmatch(self.model_name):
            raise ContractError(
                f"{self.model_name!r} cannot be a model folder name: use letters, digits, '-', '_' and '.'",
                field="model_name",
            )
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ContractError(f"must be a whole number from 1, found {self.version!r}", field="version")

    @property
    def model_directory(self) -> Path:
        """``<repository>/<model>``."""
        return Path(self.repository) / self.model_name

    @property
    def configuration_path(self) -> Path:
        """``<repository>/<model>/config.pbtxt``."""
        return self.model_directory / MODEL_CONFIGURATION_FILE_NAME

    @property
    def version_directory(self) -> Path:
        """``<repository>/<model>/<version>``."""
        return self.model_directory / str(self.version)

    @property
    def onnx_path(self) -> Path:
        """``<repository>/<model>/<version>/model.onnx``."""
        return self.version_directory / ONNX_FILE_NAME

    @property
    def manifest_path(self) -> Path:
        """``<repository>/<model>/<version>/artifact.json``."""
        return self.version_directory / ARTIFACT_MANIFEST_FILE_NAME


def available_versions(model_directory: str | Path) -> list[int]:
    """The version folders of a model's repository folder, in ascending order.

    A version folder is named by a positive whole number written in ASCII digits without leading zeros,
    exactly as :attr:`RepositoryEntry.version_directory` names it; anything else in the folder is ignored.
    """
    directory = Path(model_directory)
    if not directory.is_dir():
        return []
    return sorted(
        int(child.name)
        for child in directory.iterdir()
        if child.is_dir() and _VERSION_FOLDER_NAME.fullmatch(child.name)
    )


@dataclass(frozen=True)
class RunReference:
    """Which training run produced an artifact: its identifier, its record's path and its record's digest."""

    run_identifier: str
    """The run's identifier."""
    record_path: str
    """Where the run record was when the artifact was exported."""
    record_sha256: str
    """The SHA-256 of the run record file at export time."""
    dataset_fingerprint: str
    """The fingerprint of the dataset the run trained on."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "run_identifier": self.run_identifier,
            "record_path": self.record_path,
            "record_sha256": self.record_sha256,
            "dataset_fingerprint": self.dataset_fingerprint,
        }

    @classmethod
    def from_reader(cls, reader: FieldReader) -> RunReference:
        """Parse from a field reader."""
        return cls(
            reader.required("run_identifier", str),
            reader.required("record_path", str),
            reader.hexadecimal_digest("record_sha256"),
            reader.hexadecimal_digest("dataset_fingerprint"),
        )


@dataclass(frozen=True)
class ParityReport:
    """The result of comparing the ONNX predictor with the native predictor on the same examples."""

    examples: int
    """How many examples were compared."""
    largest_absolute_difference: float
    """The largest absolute difference between the two predictors' outputs."""
    tolerance: float
    """The largest difference accepted."""
    identical_predictions: bool
    """Whether the decisions (predicted classes, or rounded forecasts) were identical."""

    @property
    def passed(self) -> bool:
        """Whether the export agrees with the native predictor."""
        return self.identical_predictions and self.largest_absolute_difference <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "examples": self.examples,
            "largest_absolute_difference": self.largest_absolute_difference,
            "tolerance": self.tolerance,
            "identical_predictions": self.identical_predictions,
            "passed": self.passed,
        }

    @classmethod
    def from_reader(cls, reader: FieldReader) -> ParityReport:
        """Parse from a field reader."""
        return cls(
            reader.required("examples", int),
            reader.required("largest_absolute_difference", float),
            reader.required("tolerance", float),
            reader.required("identical_predictions", bool),
        )


@dataclass(frozen=True)
class ArtifactManifest:
    """What a deployer needs to know about an exported model beyond ``config.pbtxt``."""

    model_name: str
    """The model's name (its folder in the repository)."""
    model_version: str
    """The model package's version that exported it."""
    inputs: tuple[TensorSpecification, ...]
    """The input tensors, with the batch dimension -1 first."""
    outputs: tuple[TensorSpecification, ...]
    """The output tensors, with the batch dimension -1 first."""
    onnx_sha256: str
    """The SHA-256 of ``model.onnx``; a server refuses a file that does not match it."""
    onnx_opset: int
    """The ONNX operator set version of the file."""
    run: RunReference
    """The training run that produced the weights."""
    parity: ParityReport
    """The export's agreement with the native predictor."""
    label_names: tuple[str, ...] = ()
    """For classifiers: the name of each output class, in order."""
    preprocessing: dict[str, Any] = field(default_factory=dict)
    """How raw input becomes the input tensors (scaling, layout), as JSON values."""
    metrics: dict[str, float] = field(default_factory=dict)
    """The run's final evaluation metrics."""
    contracts_version: str = CONTRACTS_VERSION
    """The version of the contracts that wrote the manifest."""

    def __post_init__(self) -> None:
        for label, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            if not tensors:
                raise ContractError("needs at least one tensor", field=label)
        input_names = [tensor.name for tensor in self.inputs]
        names = [*input_names, *(tensor.name for tensor in self.outputs)]
        if len(set(names)) != len(names):
            raise ContractError(
                f"tensor names must be unique across inputs and outputs, found {names}",
                field="inputs" if len(set(input_names)) != len(input_names) else "outputs",
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "contracts_version": self.contracts_version,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "inputs": [tensor.to_dict() for tensor in self.inputs],
            "outputs": [tensor.to_dict() for tensor in self.outputs],
            "onnx_sha256": self.onnx_sha256,
            "onnx_opset": self.onnx_opset,
            "run": self.run.to_dict(),
            "parity": self.parity.to_dict(),
            "label_names": list(self.label_names),
            "preprocessing": self.preprocessing,
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> ArtifactManifest:
        """Parse the JSON form, raising :class:`ContractError` that names ``source`` and the field."""
        reader = FieldReader(data, source)
        try:
            return cls(
                model_name=reader.required("model_name", str),
                model_version=reader.required("model_version", str),
                inputs=reader.items("inputs", TensorSpecification.from_reader),
                outputs=reader.items("outputs", TensorSpecification.from_reader),
                onnx_sha256=reader.hexadecimal_digest("onnx_sha256"),
                onnx_opset=reader.required("onnx_opset", int),
                run=RunReference.from_reader(reader.child("run")),
                parity=ParityReport.from_reader(reader.child("parity")),
                label_names=reader.scalars("label_names", str) if "label_names" in data else (),
                preprocessing=reader.optional("preprocessing", dict, {}),
                metrics=reader.mapping("metrics", float, required=False),
                contracts_version=reader.contracts_version(),
            )
        except ContractError as error:
            if error.source is not None:
                raise
            raise ContractError(error.reason, source=source, field=error.field) from None

    def save(self, path: str | Path) -> Path:
        """Write the manifest to ``path`` atomically; returns the path."""
        return write_json_atomically(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> ArtifactManifest:
        """Read an artifact manifest file."""
        return cls.from_dict(read_json(path, "artifact manifest"), str(path))

    def verify_onnx(self, onnx_path: str | Path) -> None:
        """Raise :class:`ContractError` unless ``model.onnx`` exists and has the recorded SHA-256."""
        path = Path(onnx_path)
        if not path.is_file():
            raise ContractError("the ONNX model file is missing; export the model again", source=path)
        actual = sha256_file(path)
        if actual != self.onnx_sha256:
            raise ContractError(
                f"the ONNX model's SHA-256 is {actual}, the artifact manifest says {self.onnx_sha256}: "
                "the file was changed or corrupted after export. Export the model again",
                source=path,
            )
