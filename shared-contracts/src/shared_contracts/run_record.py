"""The model -> lineage boundary: the run record that every training run writes into its run directory.

A run directory holds ``run.json`` (this record), the checkpoints (safetensors, never pickle) and the
per-epoch metrics. The record holds everything needed to say what produced a model and to repeat it: code
revision, dataset fingerprint, lock digest, configuration and seed, environment, metrics and checkpoints,
and how the results compare with the model's committed baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shared_contracts._fields import FieldReader, is_sha256
from shared_contracts.atomic import read_json, write_json_atomically
from shared_contracts.errors import ContractError
from shared_contracts.version import CONTRACTS_VERSION

RUN_RECORD_FILE_NAME = "run.json"
"""The run record's file name inside a run directory."""

RUN_STATUSES = ("running", "completed", "failed", "interrupted")
"""The states of a run: written as ``running`` at the start and updated at every epoch and at the end."""


@dataclass(frozen=True)
class CodeLineage:
    """The code that ran: the version control revision and whether the tree had uncommitted changes."""

    revision: str | None
    """The commit identifier, or ``None`` outside a repository."""
    dirty: bool
    """Whether the working tree had uncommitted changes."""
    diff_sha256: str | None = None
    """The SHA-256 of the uncommitted diff when the tree was dirty, so two dirty runs can be compared."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"revision": self.revision, "dirty": self.dirty, "diff_sha256": self.diff_sha256}

    @classmethod
    def from_reader(cls, reader: FieldReader) -> CodeLineage:
        """Parse from a field reader."""
        if "revision" not in reader.data:
            raise reader.error("revision", "is missing (use null outside a repository)")
        diff = reader.optional("diff_sha256", str)
        if diff is not None and not is_sha256(diff):
            raise reader.error("diff_sha256", f"must be a SHA-256 digest, found {diff!r}")
        return cls(reader.optional("revision", str), reader.required("dirty", bool), diff)


@dataclass(frozen=True)
class EnvironmentRecord:
    """Where the run ran: interpreter, platform, library versions, device and thread settings."""

    python: str
    """The Python version, for example ``3.11.7``."""
    platform: str
    """The operating system and machine, as :func:`platform.platform` gives it."""
    libraries: dict[str, str]
    """The versions of the framework and the other libraries that affect results."""
    device: str
    """The device that trained, for example ``cpu`` or ``cuda:0 (NVIDIA H100)``."""
    threads: dict[str, int] = field(default_factory=dict)
    """Thread settings that affect results or speed (intra-operation, inter-operation)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "python": self.python,
            "platform": self.platform,
            "libraries": dict(self.libraries),
            "device": self.device,
            "threads": dict(self.threads),
        }

    @classmethod
    def from_reader(cls, reader: FieldReader) -> EnvironmentRecord:
        """Parse from a field reader."""
        return cls(
            python=reader.required("python", str),
            platform=reader.required("platform", str),
            libraries=reader.mapping("libraries", str),
            device=reader.required("device", str),
            threads=reader.mapping("threads", int, required=False),
        )


@dataclass(frozen=True)
class EpochRecord:
    """The metrics measured at the end of one epoch."""

    epoch: int
    """The epoch number, counted from 1."""
    metrics: dict[str, float]
    """Metric name -> value, for example ``{"train_loss": 0.12, "validation_accuracy": 0.98}``."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"epoch": self.epoch, "metrics": dict(self.metrics)}

    @classmethod
    def from_reader(cls, reader: FieldReader) -> EpochRecord:
        """Parse from a field reader."""
        return cls(reader.required("epoch", int), reader.mapping("metrics", float))


@dataclass(frozen=True)
class CheckpointRecord:
    """One checkpoint file of the run, relative to the run directory, with its SHA-256."""

    path: str
    """The checkpoint's path relative to the run directory."""
    sha256: str
    """The SHA-256 digest of the checkpoint file."""
    epoch: int
    """The epoch after which it was written."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"path": self.path, "sha256": self.sha256, "epoch": self.epoch}

    @classmethod
    def from_reader(cls, reader: FieldReader) -> CheckpointRecord:
        """Parse from a field reader."""
        return cls(
            reader.required("path", str),
            reader.hexadecimal_digest("sha256"),
            reader.required("epoch", int),
        )


@dataclass(frozen=True)
class BaselineComparison:
    """One final metric of the run next to the same metric of the model's committed baseline."""

    metric: str
    """The metric's name."""
    value: float
    """The run's value."""
    baseline: float
    """The baseline's value."""
    higher_is_better: bool
    """Whether a larger value is an improvement (accuracy) or a regression (loss, error)."""

    @property
    def difference(self) -> float:
        """The run's value minus the baseline's."""
        return self.value - self.baseline

    @property
    def improved(self) -> bool:
        """Whether the run is strictly better than the baseline on this metric."""
        return self.difference > 0 if self.higher_is_better else self.difference < 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the difference is included for readers)."""
        return {
            "metric": self.metric,
            "value": self.value,
            "baseline": self.baseline,
            "difference": self.difference,
            "higher_is_better": self.higher_is_better,
        }

    @classmethod
    def from_reader(cls, reader: FieldReader) -> BaselineComparison:
        """Parse from a field reader."""
        return cls(
            reader.required("metric", str),
            reader.required("value", float),
            reader.required("baseline", float),
            reader.required("higher_is_better", bool),
        )


@dataclass(frozen=True)
class RunRecord:
    """Everything about one training run: what ran, on what, with which data, and what it measured."""

    model_name: str
    """The model package's name."""
    model_version: str
    """The model package's version."""
    run_identifier: str
    """The run's identifier, which is also its directory name."""
    configuration: dict[str, Any]
    """The full training configuration, every field, as JSON values."""
    seed: int
    """The random seed."""
    dataset_fingerprint: str
    """The fingerprint of the prepared dataset that the run trained on."""
    code: CodeLineage
    """The code revision."""
    lock_sha256: str | None
    """The SHA-256 of the package's ``uv.lock``, or ``None`` where the package has no lock file."""
    environment: EnvironmentRecord
    """The interpreter, platform, libraries and device."""
    started_at: str
    """When the run started, ISO 8601 in UTC."""
    status: str = "running"
    """One of :data:`RUN_STATUSES`."""
    finished_at: str | None = None
    """When the run finished, ISO 8601 in UTC, or ``None`` while it runs."""
    epochs: tuple[EpochRecord, ...] = ()
    """The metrics of each finished epoch, in order."""
    final_metrics: dict[str, float] = field(default_factory=dict)
    """The metrics of the final evaluation."""
    checkpoints: tuple[CheckpointRecord, ...] = ()
    """The checkpoint files written so far."""
    baseline_comparison: tuple[BaselineComparison, ...] = ()
    """The final metrics next to the baseline's (empty where the model has no baseline yet)."""
    reproduction_tolerance: dict[str, float] = field(default_factory=dict)
    """Metric name -> largest absolute difference accepted when reproducing on another platform."""
    contracts_version: str = CONTRACTS_VERSION
    """The version of the contracts that wrote the record."""
    notes: tuple[str, ...] = ()
    """Remarks the run wants a reader to see (for example that it ran on a dirty tree on purpose)."""

    def __post_init__(self) -> None:
        if self.status not in RUN_STATUSES:
            raise ContractError(
                f"must be one of {', '.join(RUN_STATUSES)}, found {self.status!r}", field="status"
            )
        if not is_sha256(self.dataset_fingerprint):
            raise ContractError("must be a SHA-256 digest", field="dataset_fingerprint")
        if self.lock_sha256 is not None and not is_sha256(self.lock_sha256):
            raise ContractError("must be a SHA-256 digest or null", field="lock_sha256")

    def evolve(self, **changes: Any) -> RunRecord:
        """A copy with some fields changed (records are immutable)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "contracts_version": self.contracts_version,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "run_identifier": self.run_identifier,
            "status": self.status,
            "configuration": self.configuration,
            "seed": self.seed,
            "dataset_fingerprint": self.dataset_fingerprint,
            "code": self.code.to_dict(),
            "lock_sha256": self.lock_sha256,
            "environment": self.environment.to_dict(),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "epochs": [epoch.to_dict() for epoch in self.epochs],
            "final_metrics": dict(self.final_metrics),
            "checkpoints": [checkpoint.to_dict() for checkpoint in self.checkpoints],
            "baseline_comparison": [each.to_dict() for each in self.baseline_comparison],
            "reproduction_tolerance": dict(self.reproduction_tolerance),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> RunRecord:
        """Parse the JSON form, raising :class:`ContractError` that names ``source`` and the field."""
        reader = FieldReader(data, source)
        if "lock_sha256" not in reader.data:
            raise reader.error("lock_sha256", "is missing (use null where the package has no lock)")
        try:
            return cls(
                model_name=reader.required("model_name", str),
                model_version=reader.required("model_version", str),
                run_identifier=reader.required("run_identifier", str),
                configuration=reader.required("configuration", dict),
                seed=reader.required("seed", int),
                dataset_fingerprint=reader.required("dataset_fingerprint", str),
                code=CodeLineage.from_reader(reader.child("code")),
                lock_sha256=reader.optional("lock_sha256", str),
                environment=EnvironmentRecord.from_reader(reader.child("environment")),
                started_at=reader.required("started_at", str),
                status=reader.required("status", str),
                finished_at=reader.optional("finished_at", str),
                epochs=reader.items("epochs", EpochRecord.from_reader),
                final_metrics=reader.mapping("final_metrics", float),
                checkpoints=reader.items("checkpoints", CheckpointRecord.from_reader),
                baseline_comparison=reader.items("baseline_comparison", BaselineComparison.from_reader),
                reproduction_tolerance=reader.mapping("reproduction_tolerance", float, required=False),
                contracts_version=reader.contracts_version(),
                notes=tuple(reader.scalars("notes", str)) if "notes" in reader.data else (),
            )
        except ContractError as error:
            if error.source is not None:
                raise
            raise ContractError(error.reason, source=source, field=error.field) from None

    def save(self, run_directory: str | Path) -> Path:
        """Write ``run.json`` into the run directory atomically; returns its path."""
        return write_json_atomically(Path(run_directory) / RUN_RECORD_FILE_NAME, self.to_dict())

    @classmethod
    def load(cls, run_directory: str | Path) -> RunRecord:
        """Read the run record of a run directory."""
        path = Path(run_directory) / RUN_RECORD_FILE_NAME
        if not path.exists():
            raise ContractError(
                "no run record here; is this a run directory? Train first, or name an existing run",
                source=path,
            )
        return cls.from_dict(read_json(path, "run record"), str(path))
