"""Carbon dioxide forecaster in PyTorch: the weekly Mauna Loa series, from raw data to a verified ONNX export.

The model reads the last 104 weekly means of the atmospheric carbon dioxide at Mauna Loa (two years, in parts
per million) and forecasts the next 13 weeks. It must beat the seasonal-naive forecast (each week's value one
year, 52 weeks, earlier) on a test period it never saw.

One file, read top to bottom in the order of the pipeline:

1. configuration, 2. data (read the series bundled with statsmodels, fill its missing weeks, cut it into
windows split by time, in the dataset contract; the loader), 3. the network, 4. training (progress bar, run
directory, safetensors checkpoints, resume, lineage, baseline comparison), 5. evaluation against the
seasonal-naive forecast, 6. prediction (the native and the ONNX predictors, reading past weekly values from
``.npy`` or ``.csv``), 7. export to a Triton model repository entry with the parity check, 8. reproduction of a
recorded run, 9. the command line.

Nothing here is shared with another model by import: it started as a copy of ``digits-classifier-torch``
(``uv run zoo new-model``), and every object still identical to its origin carries a ``# Copied from`` marker
that ``uv run zoo check-copies`` checks; the objects changed on purpose say why in a ``# Diverged from`` marker.
"""

from __future__ import annotations

import argparse
import ast
import collections
import concurrent.futures
import dataclasses
import datetime
import importlib.metadata
import inspect
import itertools
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import fsspec
import numpy
import onnx
import onnxruntime
import safetensors.torch
import torch
from torch import nn
from tqdm import tqdm

from shared_contracts import (
    CONTRACTS_VERSION,
    DATASET_MANIFEST_FILE_NAME,
    ArtifactManifest,
    BaselineComparison,
    CheckpointRecord,
    CodeLineage,
    ContractError,
    DatasetManifest,
    DynamicBatching,
    EnvironmentRecord,
    EpochRecord,
    ModelConfiguration,
    ParityReport,
    RepositoryEntry,
    RunRecord,
    RunReference,
    ShardRecord,
    SplitRecord,
    TensorSpecification,
    available_versions,
    decode_shard,
    read_shard,
    sha256_bytes,
    sha256_file,
    sha256_json,
    validate_inputs,
    write_bytes_atomically,
    write_json_atomically,
    write_shard,
)

# Copied from digits-classifier-torch:digits_classifier_torch.model.MODEL_NAME with digits-classifier-torch->carbon-dioxide-forecaster-torch
MODEL_NAME = "carbon-dioxide-forecaster-torch"
"""The package's name, which is also the model's folder in a model repository."""

# Copied from digits-classifier-torch:digits_classifier_torch.model.MODEL_VERSION
MODEL_VERSION = importlib.metadata.version(MODEL_NAME)
"""The package's version, recorded in every run record and artifact."""

# Copied from digits-classifier-torch:digits_classifier_torch.model.PACKAGE_DIRECTORY
PACKAGE_DIRECTORY = Path(__file__).resolve().parents[2]
"""The package's folder (holding ``pyproject.toml``, ``uv.lock`` and ``baseline/``) in a source checkout."""

# Copied from digits-classifier-torch:digits_classifier_torch.model.BASELINE_DIRECTORY
BASELINE_DIRECTORY = PACKAGE_DIRECTORY / "baseline"
"""Where the committed baseline run record lives."""

# Copied from digits-classifier-torch:digits_classifier_torch.model.logger
logger = logging.getLogger(MODEL_NAME)


# Copied from digits-classifier-torch:digits_classifier_torch.model.zoo_home
def zoo_home() -> Path:
    """The folder under which datasets, runs and the model repository live by default.

    ``$ZOO_HOME`` when set; otherwise the repository's root (the nearest folder upward from the working
    directory that holds ``packages/`` and ``shared-contracts/``), so that every model's exports land in one
    model repository that one server can serve; otherwise the working directory.
    """
    if "ZOO_HOME" in os.environ:
        return Path(os.environ["ZOO_HOME"])
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "packages").is_dir() and (candidate / "shared-contracts").is_dir():
            return candidate
    return here


# Copied from digits-classifier-torch:digits_classifier_torch.model.ZooError
class ZooError(RuntimeError):
    """A step that cannot go on; the message says what was wrong and what to do."""


# ----------------------------------------------------------------------------------------------------------
# 1. Configuration
# ----------------------------------------------------------------------------------------------------------


# Diverged from digits-classifier-torch:digits_classifier_torch.model.Configuration: the forecaster's fields and defaults (a perceptron's width, no convolution channels)
@dataclasses.dataclass(frozen=True)
class Configuration:
    """Everything that decides a training run's result. The defaults reproduce the committed baseline."""

    seed: int = 0
    """Seeds the initial weights, the order of the training windows in every epoch, and dropout."""
    epochs: int = 50
    """How many passes over the training windows."""
    batch_size: int = 32
    """How many windows each optimisation step sees."""
    learning_rate: float = 0.001
    """The AdamW step size."""
    weight_decay: float = 0.0001
    """AdamW's decoupled weight decay."""
    hidden_size: int = 64
    """The width of the two hidden layers of the perceptron beside the linear path."""
    dropout: float = 0.1
    """The probability of zeroing a hidden unit of the perceptron during training."""
    threads: int = 1
    """PyTorch's intra-operation threads; the same value on the same platform gives bit-identical results."""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "hidden_size", "threads"):
            if getattr(self, name) < 1:
                raise ZooError(f"configuration: {name} must be at least 1, found {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ZooError(f"configuration: learning_rate must be positive, found {self.learning_rate}")
        if self.weight_decay < 0:
            raise ZooError(f"configuration: weight_decay must be 0 or more, found {self.weight_decay}")
        if not 0 <= self.dropout < 1:
            raise ZooError(f"configuration: dropout must be in [0, 1), found {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Configuration:
        """Rebuild a configuration from its JSON form; unknown fields are an error (another model's run)."""
        known = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ZooError(
                f"configuration: unknown field(s) {', '.join(unknown)}; the run was recorded by another model "
                "or another version of this model"
            )
        values = {}
        for name, value in data.items():
            expected = float if known[name].type == "float" else int
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (expected is int and not isinstance(value, int))
            ):
                raise ZooError(f"configuration: {name} must be {known[name].type}, found {value!r}")
            values[name] = expected(value)
        return cls(**values)

    def sha256(self) -> str:
        """The digest of the configuration, stored in checkpoints to refuse resuming with another one."""
        return sha256_json(self.to_dict())


# Copied from digits-classifier-torch:digits_classifier_torch.model.field_documentation
def field_documentation(configuration_class: type) -> dict[str, str]:
    """Each field's docstring (the string under it in the class body), for ``--help``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(configuration_class)))
    body = tree.body[0].body
    documentation = {}
    for previous, current in itertools.pairwise(body):
        if (
            isinstance(previous, ast.AnnAssign)
            and isinstance(current, ast.Expr)
            and isinstance(current.value, ast.Constant)
        ):
            documentation[previous.target.id] = " ".join(str(current.value.value).split())
    return documentation


# ----------------------------------------------------------------------------------------------------------
# 2. Data: the weekly Mauna Loa series bundled with statsmodels, cut into windows split by time, and the loader
# ----------------------------------------------------------------------------------------------------------

# Diverged from digits-classifier-torch:digits_classifier_torch.model.DATASET_NAME: another data set
DATASET_NAME = "mauna-loa-carbon-dioxide-weekly"
"""The prepared dataset's name."""
# Copied from digits-classifier-torch:digits_classifier_torch.model.DATASET_VERSION
DATASET_VERSION = "1"
"""The version of the preparation below; change it whenever the prepared content would change."""
# Copied from digits-classifier-torch:digits_classifier_torch.model.SHARD_ROWS
SHARD_ROWS = 512
"""The largest number of examples in one shard file."""
WINDOW_WEEKS = 104
"""How many past weeks the model reads: two years, so that the same weeks one year earlier are in view."""
HORIZON_WEEKS = 13
"""How many weeks ahead the model forecasts: a quarter of a year."""
SEASON_WEEKS = 52
"""The weeks of one seasonal cycle: the seasonal-naive forecast of a week is the value 52 weeks earlier."""
VALIDATION_START = "1994-01-01"
"""The first day of the validation period: windows whose target weeks all fall from here to the test period."""
TEST_START = "1998-01-01"
"""The first day of the test period (1998 to 2001, the last four years of the series)."""
SOURCE = (
    "statsmodels: statsmodels.datasets.co2 (bundled with the package, no download). Weekly means of "
    "continuous measurements by the Scripps Institution of Oceanography (C. D. Keeling and T. P. Whorf) at "
    "Mauna Loa Observatory, Hawaii, March 1958 to December 2001, as distributed by the Carbon Dioxide "
    "Information Analysis Center, Oak Ridge National Laboratory"
)
"""Where the series comes from, as the manifest records it."""
LICENSE = (
    "public domain, as statsmodels documents it (statsmodels.datasets.co2.COPYRIGHT: 'This is public "
    "domain.'); cite Keeling, C. D. and T. P. Whorf (2004), Atmospheric CO2 concentrations derived from flask "
    "air samples at sites in the SIO network, in Trends: A Compendium of Data on Global Change, CDIAC"
)
"""The data's terms of use, as the manifest records them."""
FILL_METHOD = "linear interpolation in time between the nearest measured weeks before and after"
"""How a week without a measurement gets its value."""
# Diverged from digits-classifier-torch:digits_classifier_torch.model.FEATURES: a window of past weeks and the weeks to forecast
FEATURES = (
    TensorSpecification("history", "float32", (WINDOW_WEEKS,)),
    TensorSpecification("target", "float32", (HORIZON_WEEKS,)),
    TensorSpecification("origin_day", "int64", ()),
)
"""The features of one window: 104 past weekly means in ppm (oldest first), the 13 weekly means that follow,
and the date of the window's last past week (the forecast's origin) in days since 1970-01-01."""


# Copied from digits-classifier-torch:digits_classifier_torch.model.default_dataset_directory
def default_dataset_directory() -> Path:
    """Where the prepared dataset lives unless told otherwise."""
    return zoo_home() / "datasets" / DATASET_NAME / DATASET_VERSION


def read_source_series() -> tuple[numpy.ndarray, numpy.ndarray]:
    """The series as statsmodels ships it: each week's date (a Saturday) and mean in ppm, ``nan`` if unmeasured."""
    from statsmodels.datasets import co2

    data = co2.load_pandas().data
    return data.index.to_numpy().astype("datetime64[D]"), data["co2"].to_numpy(dtype=numpy.float64)


def check_consecutive_weeks(days: numpy.ndarray) -> None:
    """Refuse a series whose dates are not one week apart: a window must span exactly its number of weeks."""
    steps = numpy.diff(days).astype(numpy.int64)
    irregular = numpy.flatnonzero(steps != 7)
    if len(irregular):
        position = int(irregular[0])
        raise ZooError(
            f"the source series is not weekly: {days[position]} is followed by {days[position + 1]}; "
            "windows need consecutive weeks"
        )


def fill_missing_weeks(values: numpy.ndarray) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Give every unmeasured week a value by linear interpolation in time; returns the values and which were filled.

    A missing week takes the value on the straight line between the nearest measured weeks before and after
    it, which is deterministic and keeps the seasonal cycle's shape over the short gaps of this series (the
    longest is 18 weeks, in 1964). The first and last weeks must be measured: nothing beyond the series is
    invented.
    """
    missing = ~numpy.isfinite(values)
    if missing[0] or missing[-1]:
        raise ZooError(
            "the series must begin and end with a measured week: a missing week is filled only between two "
            "measured ones"
        )
    positions = numpy.arange(len(values))
    filled = values.copy()
    filled[missing] = numpy.interp(positions[missing], positions[~missing], values[~missing])
    return filled, missing


def make_windows(
    values: numpy.ndarray, days: numpy.ndarray, first_target: int, end: int
) -> dict[str, numpy.ndarray]:
    """Every window whose target weeks all lie in the weeks ``[first_target, end)`` of the series.

    A window's history is the ``WINDOW_WEEKS`` weeks just before its first target week, so it always starts
    at least ``WINDOW_WEEKS`` weeks into the series. The history may reach back before ``first_target``:
    that is the past, which a forecaster is allowed to see.
    """
    starts = numpy.arange(max(first_target, WINDOW_WEEKS), end - HORIZON_WEEKS + 1)
    return {
        "history": values[starts[:, None] + numpy.arange(-WINDOW_WEEKS, 0)].astype(numpy.float32),
        "target": values[starts[:, None] + numpy.arange(HORIZON_WEEKS)].astype(numpy.float32),
        "origin_day": (days[starts - 1] - numpy.datetime64("1970-01-01", "D")).astype(numpy.int64),
    }


def split_windows(values: numpy.ndarray, days: numpy.ndarray) -> dict[str, dict[str, numpy.ndarray]]:
    """The windows of the train, validation and test splits, split by time so that no future leaks backwards.

    The series is cut into three periods at ``VALIDATION_START`` and ``TEST_START``. A window belongs to the
    period that holds all of its target weeks; a training window's history and targets both lie before
    ``VALIDATION_START``, so training sees no week of the validation or test periods, and every week that a
    validation or test window forecasts comes after every week of every training window (and every test
    target after every validation target). Windows whose targets would straddle a boundary are left out:
    that is the gap between the splits.
    """
    validation_start = int(numpy.searchsorted(days, numpy.datetime64(VALIDATION_START, "D")))
    test_start = int(numpy.searchsorted(days, numpy.datetime64(TEST_START, "D")))
    periods = {
        "train": (0, validation_start),
        "validation": (validation_start, test_start),
        "test": (test_start, len(values)),
    }
    return {name: make_windows(values, days, first, end) for name, (first, end) in periods.items()}


# Diverged from digits-classifier-torch:digits_classifier_torch.model.prepare_dataset: a weekly series with missing weeks filled, cut into windows split by time
def prepare_dataset(directory: Path, *, force: bool = False) -> DatasetManifest:
    """Write the series' windows into the dataset contract at ``directory``; returns its manifest.

    An existing, intact dataset is kept as it is (preparing is idempotent). A damaged one is an error unless
    ``force`` is given, which prepares it again. The new dataset is written beside the target and moved into
    place only when complete, so an interruption never leaves a dataset that looks prepared.
    """
    directory = Path(directory)
    if directory.exists() and not force:
        try:
            manifest = DatasetManifest.load(directory)
            manifest.verify(directory)
        except ContractError as error:
            raise ZooError(f"{error}: run `{MODEL_NAME} prepare-data --force`") from None
        return manifest
    days, measured = read_source_series()
    check_consecutive_weeks(days)
    values, missing = fill_missing_weeks(measured)
    staging = directory.with_name(f".{directory.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    splits = []
    for split_name, windows in split_windows(values, days).items():
        shards = []
        for start in range(0, len(windows["target"]), SHARD_ROWS):
            arrays = {name: array[start : start + SHARD_ROWS] for name, array in windows.items()}
            path = f"{split_name}/shard-{start // SHARD_ROWS:05d}.npz"
            shards.append(write_shard(staging, path, arrays, FEATURES))
        splits.append(SplitRecord(split_name, tuple(shards)))
    manifest = DatasetManifest(
        name=DATASET_NAME,
        version=DATASET_VERSION,
        source=SOURCE,
        license=LICENSE,
        features=FEATURES,
        splits=tuple(splits),
        description=(
            f"{len(values):,} weekly means of atmospheric carbon dioxide at Mauna Loa in ppm, {days[0]} to "
            f"{days[-1]}, {int(missing.sum())} unmeasured weeks filled by {FILL_METHOD}; windows of "
            f"{WINDOW_WEEKS} past weeks and the {HORIZON_WEEKS} weeks that follow, split by time: training "
            f"before {VALIDATION_START}, validation before {TEST_START}, test from {TEST_START}."
        ),
        preparation={
            "window_weeks": WINDOW_WEEKS,
            "horizon_weeks": HORIZON_WEEKS,
            "validation_start": VALIDATION_START,
            "test_start": TEST_START,
            "first_week": str(days[0]),
            "last_week": str(days[-1]),
            "fill_method": FILL_METHOD,
            "filled_weeks": [str(day) for day in days[missing]],
            "shard_rows": SHARD_ROWS,
        },
    )
    manifest.save(staging)
    previous = directory.with_name(f".{directory.name}.previous")
    if directory.exists():
        shutil.rmtree(previous, ignore_errors=True)
        directory.rename(previous)
    staging.rename(directory)
    shutil.rmtree(previous, ignore_errors=True)
    return manifest


# Copied from digits-classifier-torch:digits_classifier_torch.model.is_remote
def is_remote(source: Path | str) -> bool:
    """Whether a dataset location is an fsspec address (``memory://``, ``s3://``, ``gcs://``, ...)."""
    return "://" in str(source)


# Copied from digits-classifier-torch:digits_classifier_torch.model.load_manifest
def load_manifest(source: Path | str) -> DatasetManifest:
    """The manifest of a prepared dataset in a local folder or at any fsspec address."""
    if not is_remote(source):
        return DatasetManifest.load(source)
    filesystem, root = fsspec.core.url_to_fs(str(source))
    address = f"{str(source).rstrip('/')}/{DATASET_MANIFEST_FILE_NAME}"
    try:
        data = filesystem.cat_file(f"{root.rstrip('/')}/{DATASET_MANIFEST_FILE_NAME}")
        value = json.loads(data)
    except FileNotFoundError:
        raise ContractError(
            "no prepared dataset here (the manifest is missing); prepare it and copy the folder there",
            source=address,
        ) from None
    except ValueError as error:
        raise ContractError(f"the dataset manifest is not valid JSON ({error})", source=address) from None
    return DatasetManifest.from_dict(value, address)


# Copied from digits-classifier-torch:digits_classifier_torch.model.fetch_shard
def fetch_shard(
    source: Path | str, shard: ShardRecord, features: tuple[TensorSpecification, ...]
) -> dict[str, numpy.ndarray]:
    """One shard's arrays from a local folder or any fsspec address, checked against its SHA-256."""
    if not is_remote(source):
        return read_shard(source, shard, features)
    filesystem, root = fsspec.core.url_to_fs(str(source))
    address = f"{str(source).rstrip('/')}/{shard.path}"
    try:
        data = filesystem.cat_file(f"{root.rstrip('/')}/{shard.path}")
    except FileNotFoundError:
        raise ContractError("the shard file is missing; prepare the dataset again", source=address) from None
    return decode_shard(data, shard, features, address)


# Copied from digits-classifier-torch:digits_classifier_torch.model.BatchLoader
class BatchLoader:
    """Yields one split's examples in batches of ``dict[str, numpy.ndarray]``, from memory.

    The split is read once (shards fetched in parallel from a local folder or any fsspec address, each
    checked against its SHA-256). The order is a permutation fixed by ``(seed, epoch)``, so a resumed run
    sees exactly the batches an uninterrupted one would. With ``world_size`` above 1, rank ``r`` takes every
    ``world_size``-th example of that permutation, so the ranks together see every example exactly once per
    epoch, and their batches together are exactly the batches of one process with ``world_size`` times the
    batch size. For splits larger than memory, see :class:`ShardStream`.
    """

    def __init__(
        self,
        directory: Path | str,
        split: str,
        *,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        threads: int = 4,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ZooError(f"rank must be in [0, {world_size}), found {rank}")
        self.manifest = load_manifest(directory)
        record = self.manifest.split(split)
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(
                pool.map(lambda shard: fetch_shard(directory, shard, self.manifest.features), record.shards)
            )
        self.arrays = {
            feature.name: numpy.concatenate([part[feature.name] for part in parts])
            for feature in self.manifest.features
        }
        self.total_rows = record.rows
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size

    @property
    def rows(self) -> int:
        """How many examples this rank sees per epoch."""
        return len(range(self.rank, self.total_rows, self.world_size))

    def __len__(self) -> int:
        """How many batches one epoch has."""
        return math.ceil(self.rows / self.batch_size)

    def batches(self, epoch: int) -> Iterator[dict[str, numpy.ndarray]]:
        """The batches of one epoch, in the order fixed by the seed and the epoch."""
        order = numpy.arange(self.total_rows)
        if self.shuffle:
            order = numpy.random.default_rng([self.seed, epoch]).permutation(self.total_rows)
        order = order[self.rank :: self.world_size]
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            yield {name: values[chosen] for name, values in self.arrays.items()}


# Copied from digits-classifier-torch:digits_classifier_torch.model.ShardStream
class ShardStream:
    """Streams one split shard by shard, for datasets larger than memory, with background prefetching.

    Each epoch permutes the split's shards with ``(seed, epoch)``; shard ``i`` of that order belongs to the
    reader ``i mod (world_size * workers)``, where a reader is ``rank * workers + worker``, so the ranks and
    their workers together read every shard, hence every example, exactly once per epoch, with no overlap.
    ``prefetch`` shards are fetched and checked ahead on ``threads`` background threads (from a local
    folder or any fsspec address) while the consumer works on the current one; examples are shuffled
    within each shard, and a batch never spans two shards.
    """

    def __init__(
        self,
        source: Path | str,
        split: str,
        *,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        worker: int = 0,
        workers: int = 1,
        prefetch: int = 4,
        threads: int = 4,
    ) -> None:
        if not 0 <= rank < world_size or not 0 <= worker < workers:
            raise ZooError(
                f"rank must be in [0, {world_size}) and worker in [0, {workers}), found rank {rank}, "
                f"worker {worker}"
            )
        if prefetch < 1 or threads < 1:
            raise ZooError(f"prefetch and threads must be at least 1, found {prefetch} and {threads}")
        self.source = source
        self.manifest = load_manifest(source)
        self.shards = self.manifest.split(split).shards
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.reader = rank * workers + worker
        self.readers = world_size * workers
        self.prefetch = prefetch
        self.threads = threads

    def shards_for(self, epoch: int) -> list[ShardRecord]:
        """The shards this reader reads in an epoch, in order."""
        order = numpy.arange(len(self.shards))
        if self.shuffle:
            order = numpy.random.default_rng([self.seed, epoch]).permutation(len(self.shards))
        return [self.shards[index] for index in order[self.reader :: self.readers]]

    def batches(self, epoch: int) -> Iterator[dict[str, numpy.ndarray]]:
        """The batches of one epoch; the next shards are being fetched while these are consumed."""
        shards = iter(self.shards_for(epoch))
        features = self.manifest.features
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.threads) as pool:
            pending = collections.deque(
                pool.submit(fetch_shard, self.source, shard, features)
                for shard in itertools.islice(shards, self.prefetch)
            )
            position = 0
            while pending:
                arrays = pending.popleft().result()
                for shard in itertools.islice(shards, 1):
                    pending.append(pool.submit(fetch_shard, self.source, shard, features))
                rows = len(next(iter(arrays.values())))
                if self.shuffle:  # one gather per shard, then every batch is a view: no copy per batch
                    generator = numpy.random.default_rng([self.seed, epoch, self.reader, position])
                    order = generator.permutation(rows)
                    arrays = {name: values[order] for name, values in arrays.items()}
                position += 1
                for start in range(0, rows, self.batch_size):
                    yield {name: values[start : start + self.batch_size] for name, values in arrays.items()}


# ----------------------------------------------------------------------------------------------------------
# 3. The network
# ----------------------------------------------------------------------------------------------------------

FORECAST_SCALE = 10.0
"""The ppm that one unit inside the network stands for (the seasonal swing at Mauna Loa is about 6 ppm)."""


class ForecastNetwork(nn.Module):
    """A linear path and a small perceptron, side by side, on the window seen relative to its last week.

    The window is shifted so that its last week is 0 and divided by ``FORECAST_SCALE``; the linear path and
    the perceptron (two hidden layers with GELU) each map it to ``HORIZON_WEEKS`` changes, which are added,
    scaled back to ppm and added to the last week. Forecasting changes instead of levels lets the network
    forecast levels it never saw: the series rises every year, so the test period lies above everything in
    training. The shift and the scaling are part of the network, so the exported model reads raw ppm.
    """

    def __init__(self, hidden_size: int, dropout: float) -> None:
        super().__init__()
        self.linear = nn.Linear(WINDOW_WEEKS, HORIZON_WEEKS)
        self.perceptron = nn.Sequential(
            nn.Linear(WINDOW_WEEKS, hidden_size),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, hidden_size),
            nn.GELU(),
            nn.Linear(hidden_size, HORIZON_WEEKS),
        )

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        """The forecast in ppm of the ``HORIZON_WEEKS`` weeks after each window of past weekly means in ppm."""
        last = history[:, -1:]
        changes = (history - last) / FORECAST_SCALE
        return last + FORECAST_SCALE * (self.linear(changes) + self.perceptron(changes))


# ----------------------------------------------------------------------------------------------------------
# 4. Training: run directory, progress bar, checkpoints, resume, lineage, baseline comparison
# ----------------------------------------------------------------------------------------------------------

# Copied from digits-classifier-torch:digits_classifier_torch.model.CHECKPOINT_DIRECTORY_NAME
CHECKPOINT_DIRECTORY_NAME = "checkpoints"
"""The folder of a run directory that holds one safetensors file per epoch."""

# Diverged from digits-classifier-torch:digits_classifier_torch.model.HIGHER_IS_BETTER: a forecaster's metrics
HIGHER_IS_BETTER = {
    "test_improvement_over_seasonal_naive": True,
    "test_mean_absolute_error": False,
    "validation_mean_absolute_error": False,
}
"""The final metrics compared with the baseline and whether a larger value is better."""

# Diverged from digits-classifier-torch:digits_classifier_torch.model.REPRODUCTION_TOLERANCE: a forecaster's metrics
REPRODUCTION_TOLERANCE = {
    "test_improvement_over_seasonal_naive": 0.02,
    "test_mean_absolute_error": 0.03,
    "validation_mean_absolute_error": 0.03,
}
"""How far each final metric (ppm, or a share for the improvement) may move when reproduced elsewhere."""

# Diverged from digits-classifier-torch:digits_classifier_torch.model.LIBRARIES: statsmodels provides the data instead of scikit-learn
LIBRARIES = ("torch", "numpy", "onnx", "onnxruntime", "safetensors", "statsmodels", "shared-contracts")
"""The libraries whose versions are recorded, because they can change results."""


# Copied from digits-classifier-torch:digits_classifier_torch.model.default_runs_directory
def default_runs_directory() -> Path:
    """Where run directories live unless told otherwise."""
    return zoo_home() / "runs" / MODEL_NAME


# Copied from digits-classifier-torch:digits_classifier_torch.model.resolve_device
def resolve_device(requested: str) -> torch.device:
    """``auto`` picks CUDA when PyTorch sees a GPU and the CPU otherwise; ``cuda`` without a GPU is an error."""
    if requested not in ("auto", "cpu", "cuda"):
        raise ZooError(f"device must be auto, cpu or cuda, found {requested!r}")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ZooError("--device cuda was asked for, but PyTorch sees no CUDA device; use --device cpu")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


# Copied from digits-classifier-torch:digits_classifier_torch.model.use_deterministic_settings
def use_deterministic_settings(configuration: Configuration) -> None:
    """Make a run repeatable: deterministic kernels and a fixed number of threads."""
    # cuBLAS needs a fixed workspace to be deterministic on GPUs; the variable changes nothing on the CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(configuration.threads)


# Copied from digits-classifier-torch:digits_classifier_torch.model.git_output
def git_output(arguments: list[str], directory: Path) -> str | None:
    """The output of a git command run in ``directory``, or ``None`` outside a repository."""
    try:
        completed = subprocess.run(
            ["git", *arguments], cwd=directory, capture_output=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.decode("utf-8", "replace")


# Copied from digits-classifier-torch:digits_classifier_torch.model.code_lineage
def code_lineage(package_directory: Path = PACKAGE_DIRECTORY) -> CodeLineage:
    """The commit the package's code is at and whether it (or shared-contracts) has uncommitted changes.

    Outside a git checkout there is no revision, and the code counts as dirty: nothing proves what it was.
    """
    revision = git_output(["rev-parse", "HEAD"], package_directory)
    if revision is None:
        return CodeLineage(revision=None, dirty=True)
    scope = [str(package_directory)]
    contracts = package_directory.parent.parent / "shared-contracts"
    if contracts.is_dir():
        scope.append(str(contracts))
    status = git_output(["status", "--porcelain", "--", *scope], package_directory) or ""
    if not status.strip():
        return CodeLineage(revision=revision.strip(), dirty=False)
    diff = git_output(["diff", "HEAD", "--", *scope], package_directory) or ""
    return CodeLineage(
        revision=revision.strip(), dirty=True, diff_sha256=sha256_bytes((status + diff).encode())
    )


# Copied from digits-classifier-torch:digits_classifier_torch.model.lock_sha256
def lock_sha256(package_directory: Path = PACKAGE_DIRECTORY) -> str | None:
    """The SHA-256 of the package's ``uv.lock``, or ``None`` where there is none (an installed wheel)."""
    lock = package_directory / "uv.lock"
    return sha256_file(lock) if lock.is_file() else None


# Copied from digits-classifier-torch:digits_classifier_torch.model.environment_record
def environment_record(device: torch.device, distribution: Distribution | None = None) -> EnvironmentRecord:
    """The interpreter, platform, library versions, device, threads and data-parallel processes."""
    # On a GPU the card's name is recorded, so that a figure can say which card produced it.
    name = f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)
    return EnvironmentRecord(
        python=platform.python_version(),
        platform=platform.platform(),
        # torch.__version__ names the build too (for example 2.15.0+cu132), which can change results.
        libraries={library: importlib.metadata.version(library) for library in LIBRARIES}
        | {"torch": torch.__version__},
        device=name,
        threads={
            "intra_operation": torch.get_num_threads(),
            "inter_operation": torch.get_num_interop_threads(),
            "data_parallel_processes": (distribution or Distribution()).world_size,
        },
    )


# Copied from digits-classifier-torch:digits_classifier_torch.model.load_baseline
def load_baseline(baseline_directory: Path = BASELINE_DIRECTORY) -> RunRecord | None:
    """The committed baseline run record, or ``None`` where the model has none yet."""
    if not (baseline_directory / "run.json").exists():
        return None
    return RunRecord.load(baseline_directory)


# Copied from digits-classifier-torch:digits_classifier_torch.model.compare_with_baseline
def compare_with_baseline(
    final_metrics: Mapping[str, float], baseline: RunRecord | None
) -> tuple[BaselineComparison, ...]:
    """Each final metric next to the baseline's value (empty without a baseline)."""
    if baseline is None:
        return ()
    return tuple(
        BaselineComparison(metric, value, baseline.final_metrics[metric], HIGHER_IS_BETTER[metric])
        for metric, value in sorted(final_metrics.items())
        if metric in baseline.final_metrics and metric in HIGHER_IS_BETTER
    )


# Copied from digits-classifier-torch:digits_classifier_torch.model.format_comparison
def format_comparison(comparisons: tuple[BaselineComparison, ...]) -> str:
    """A table of the run's final metrics against the baseline, for the terminal."""
    if not comparisons:
        return "No baseline to compare with (refresh one with `refresh-baseline`)."
    lines = [f"{'metric':<22}{'this run':>12}{'baseline':>12}{'difference':>12}  verdict"]
    for each in comparisons:
        verdict = "better" if each.improved else ("same" if each.difference == 0 else "worse")
        lines.append(
            f"{each.metric:<22}{each.value:>12.4f}{each.baseline:>12.4f}{each.difference:>+12.4f}  {verdict}"
        )
    return "\n".join(lines)


# Copied from digits-classifier-torch:digits_classifier_torch.model.checkpoint_tensors
def checkpoint_tensors(network: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The network's weights and the optimiser's state as flat, named tensors for safetensors."""
    tensors = {
        f"network.{name}": value.detach().cpu().contiguous() for name, value in network.state_dict().items()
    }
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return tensors


# Copied from digits-classifier-torch:digits_classifier_torch.model.serialise_checkpoint
def serialise_checkpoint(
    epoch: int, network: nn.Module, optimizer: torch.optim.Optimizer, configuration: Configuration
) -> tuple[bytes, CheckpointRecord]:
    """The epoch's checkpoint as safetensors bytes (no code runs when it is loaded) and its record."""
    metadata = {
        "model_name": MODEL_NAME,
        "epoch": str(epoch),
        "configuration_sha256": configuration.sha256(),
        "contracts_version": CONTRACTS_VERSION,
    }
    # One metadata key holding sorted JSON: safetensors orders several keys at random, and the file's bytes
    # must be identical for identical runs.
    data = safetensors.torch.save(
        checkpoint_tensors(network, optimizer), metadata={"zoo": json.dumps(metadata, sort_keys=True)}
    )
    relative = f"{CHECKPOINT_DIRECTORY_NAME}/epoch-{epoch:04d}.safetensors"
    return data, CheckpointRecord(relative, sha256_bytes(data), epoch)


# Copied from digits-classifier-torch:digits_classifier_torch.model.persist_epoch
def persist_epoch(run_directory: Path, data: bytes, record: RunRecord) -> None:
    """Write an epoch's checkpoint, then the run record that lists it, each atomically and durably.

    In this order, a record never lists a checkpoint that is not complete on disk.
    """
    write_bytes_atomically(run_directory / record.checkpoints[-1].path, data)
    record.save(run_directory)


# Copied from digits-classifier-torch:digits_classifier_torch.model.load_checkpoint
def load_checkpoint(
    run_directory: Path, checkpoint: CheckpointRecord, configuration: Configuration
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Read a checkpoint after checking its SHA-256 and that it was written with ``configuration``.

    Returns the network's weights and the optimiser's flat state.
    """
    path = run_directory / checkpoint.path
    if not path.is_file():
        raise ZooError(f"{path}: the checkpoint is missing; the run directory is incomplete")
    data = path.read_bytes()
    if sha256_bytes(data) != checkpoint.sha256:
        raise ZooError(
            f"{path}: the checkpoint's SHA-256 does not match the run record; the file is corrupt or was "
            "changed. Train a new run"
        )
    with safetensors.safe_open(path, framework="pt") as handle:
        metadata = json.loads((handle.metadata() or {}).get("zoo", "{}"))
    if metadata.get("configuration_sha256") != configuration.sha256():
        raise ZooError(
            f"{path}: the checkpoint was written with another configuration than the one given; resume "
            "with the run's own configuration (leave the configuration options out) or start a new run"
        )
    tensors = safetensors.torch.load(data)
    network_state = {
        key[len("network.") :]: value for key, value in tensors.items() if key.startswith("network.")
    }
    optimizer_state = {key: value for key, value in tensors.items() if key.startswith("optimizer.")}
    return network_state, optimizer_state


# Copied from digits-classifier-torch:digits_classifier_torch.model.restore_optimizer
def restore_optimizer(optimizer: torch.optim.Optimizer, flat_state: Mapping[str, torch.Tensor]) -> None:
    """Load the flat optimiser state written by :func:`checkpoint_tensors` back into ``optimizer``."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in flat_state.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})


# Diverged from digits-classifier-torch:digits_classifier_torch.model.new_network: the forecaster's network
def new_network(configuration: Configuration) -> ForecastNetwork:
    """A network with the initial weights fixed by the configuration's seed."""
    torch.manual_seed(configuration.seed)
    return ForecastNetwork(configuration.hidden_size, configuration.dropout)


# Copied from digits-classifier-torch:digits_classifier_torch.model.new_optimizer
def new_optimizer(network: nn.Module, configuration: Configuration) -> torch.optim.Optimizer:
    """The AdamW optimiser of the configuration."""
    return torch.optim.AdamW(
        network.parameters(), lr=configuration.learning_rate, weight_decay=configuration.weight_decay
    )


# Copied from digits-classifier-torch:digits_classifier_torch.model.utc_now
def utc_now() -> str:
    """The current time, ISO 8601 in UTC."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


# Copied from digits-classifier-torch:digits_classifier_torch.model.new_run_directory
def new_run_directory(runs_directory: Path, configuration: Configuration, prefix: str = "") -> Path:
    """A fresh run directory named from the time and the configuration: ``20261127-101500-1a2b3c4d``.

    Two runs started in the same second with the same configuration get ``-2``, ``-3``, ... appended.
    """
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    name = f"{prefix}{stamp}-{configuration.sha256()[:8]}"
    candidate, number = Path(runs_directory) / name, 1
    while candidate.exists():
        number += 1
        candidate = Path(runs_directory) / f"{name}-{number}"
    return candidate


# Copied from digits-classifier-torch:digits_classifier_torch.model.Distribution
@dataclasses.dataclass(frozen=True)
class Distribution:
    """The place of this process in a data-parallel run started by ``torchrun`` (rank 0 of 1 when alone)."""

    rank: int = 0
    """This process's number, from 0."""
    world_size: int = 1
    """How many processes train together."""

    @property
    def main(self) -> bool:
        """Whether this process writes the run directory (only rank 0 does)."""
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> Distribution:
        """Read torchrun's ``RANK`` and ``WORLD_SIZE``."""
        return cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))


# Copied from digits-classifier-torch:digits_classifier_torch.model.start_process_group
def start_process_group(
    distribution: Distribution, configuration: Configuration, device: torch.device
) -> None:
    """Join the other processes: gloo on the CPU, NCCL on GPUs; the global batch must split evenly."""
    if configuration.batch_size % distribution.world_size:
        raise ZooError(
            f"batch_size {configuration.batch_size} must be a multiple of the {distribution.world_size} "
            "processes: it is the global batch, split evenly between them"
        )
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")


# Copied from digits-classifier-torch:digits_classifier_torch.model.unwrapped
def unwrapped(network: nn.Module) -> nn.Module:
    """The network itself, inside its DistributedDataParallel wrapper or not."""
    return getattr(network, "module", network)


# Copied from digits-classifier-torch:digits_classifier_torch.model._wait
def _wait(pending: concurrent.futures.Future | None) -> None:
    """Wait for the pending epoch's files to be written (ranks other than 0 write none)."""
    if pending is not None:
        pending.result()


# Copied from digits-classifier-torch:digits_classifier_torch.model.train
def train(
    configuration: Configuration,
    *,
    dataset_directory: Path,
    run_directory: Path,
    resume: bool = False,
    progress: bool = True,
    device: str = "cpu",
    stop_after_epoch: int | None = None,
) -> RunRecord:
    """Train a network, writing the run directory as it goes; returns the final run record.

    Every epoch writes a checkpoint and updates ``run.json`` atomically, so a run killed at any moment can be
    resumed (``resume=True``) from its last checkpoint and ends bit-identical to an uninterrupted run.
    ``stop_after_epoch`` ends the run early as if it had been interrupted (used to test resuming).

    Started by ``torchrun`` with several processes, it trains data-parallel (DistributedDataParallel):
    ``batch_size`` is the global batch, each process takes its share of every batch, gradients are averaged,
    metrics are reduced across processes, and only rank 0 writes the run directory.
    """
    run_directory = Path(run_directory)
    manifest = load_manifest(dataset_directory)
    distribution = Distribution.from_environment()
    target = resolve_device(device)
    # Under torchrun on GPUs, each process takes the GPU of its local rank.
    target = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if target.type == "cuda" else target
    if distribution.world_size > 1:
        start_process_group(distribution, configuration, target)
    use_deterministic_settings(configuration)
    network = new_network(configuration).to(target)
    optimizer = new_optimizer(network, configuration)
    if resume:
        record = RunRecord.load(run_directory)
        if record.status == "completed":
            raise ZooError(f"{run_directory}: the run is already complete; there is nothing to resume")
        recorded = Configuration.from_dict(record.configuration)
        if recorded != configuration:
            changed = [
                f"{name} (run: {value}, given: {getattr(configuration, name)})"
                for name, value in recorded.to_dict().items()
                if getattr(configuration, name) != value
            ]
            raise ZooError(
                f"{run_directory}: cannot resume with another configuration; changed: {', '.join(changed)}. "
                "Resume without configuration options, or start a new run"
            )
        if record.dataset_fingerprint != manifest.fingerprint():
            raise ZooError(
                f"{run_directory}: the run trained on dataset {record.dataset_fingerprint[:12]}, the dataset at "
                f"{dataset_directory} is {manifest.fingerprint()[:12]}; resume with the run's dataset"
            )
        if record.checkpoints:
            last = record.checkpoints[-1]
            network_state, optimizer_state = load_checkpoint(run_directory, last, configuration)
            network.load_state_dict(network_state)
            restore_optimizer(optimizer, optimizer_state)
            record = record.evolve(epochs=record.epochs[: last.epoch], status="running", finished_at=None)
        else:
            record = record.evolve(epochs=(), status="running")
    else:
        if (run_directory / "run.json").exists():
            raise ZooError(
                f"{run_directory}: a run with this name exists; resume it with --resume, or choose another "
                "--run-name"
            )
        record = RunRecord(
            model_name=MODEL_NAME,
            model_version=MODEL_VERSION,
            run_identifier=run_directory.name,
            configuration=configuration.to_dict(),
            seed=configuration.seed,
            dataset_fingerprint=manifest.fingerprint(),
            code=code_lineage(),
            lock_sha256=lock_sha256(),
            environment=environment_record(target, distribution),
            started_at=utc_now(),
            reproduction_tolerance=REPRODUCTION_TOLERANCE,
        )
    if distribution.world_size > 1:
        # Every process has checked the run directory before the first one writes to it.
        torch.distributed.barrier()
        network = nn.parallel.DistributedDataParallel(network)
    if distribution.main:
        run_directory.mkdir(parents=True, exist_ok=True)
        record.save(run_directory)
    # Only rank 0 keeps a log; the others log to nowhere.
    log_path = run_directory / "training.log" if distribution.main else Path(os.devnull)
    log_handler = logging.FileHandler(log_path, encoding="utf-8")
    log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(log_handler)
    logger.setLevel(logging.INFO)
    writer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint-writer")
    try:
        record = _train_epochs(
            writer,
            distribution,
            configuration,
            record,
            network,
            optimizer,
            dataset_directory,
            run_directory,
            progress,
            target,
            stop_after_epoch,
        )
    except BaseException as error:
        writer.shutdown(wait=True)  # the pending epoch's files first, then the status
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        if distribution.main:
            RunRecord.load(run_directory).evolve(status=status).save(run_directory)
        logger.error("run %s %s: %r", run_directory.name, status, error)
        raise
    finally:
        writer.shutdown(wait=True)
        logger.removeHandler(log_handler)
        log_handler.close()
        if distribution.world_size > 1:
            torch.distributed.destroy_process_group()
    return record


# Diverged from digits-classifier-torch:digits_classifier_torch.model._train_epochs: regression with an L1 loss in full precision, measured against the seasonal-naive forecast
def _train_epochs(
    writer: concurrent.futures.ThreadPoolExecutor,
    distribution: Distribution,
    configuration: Configuration,
    record: RunRecord,
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    dataset_directory: Path,
    run_directory: Path,
    progress: bool,
    device: torch.device,
    stop_after_epoch: int | None,
) -> RunRecord:
    """The epochs from the one after the record's last, then the final evaluation."""
    loader = BatchLoader(
        dataset_directory,
        "train",
        batch_size=configuration.batch_size // distribution.world_size,
        seed=configuration.seed,
        rank=distribution.rank,
        world_size=distribution.world_size,
    )
    validation = BatchLoader(dataset_directory, "validation", batch_size=512, shuffle=False)
    loss_function = nn.L1Loss()
    first_epoch = len(record.epochs) + 1
    pending: concurrent.futures.Future | None = None
    logger.info(
        "run %s: epochs %d to %d on %s", run_directory.name, first_epoch, configuration.epochs, device
    )
    for epoch in range(first_epoch, configuration.epochs + 1):
        torch.manual_seed(configuration.seed * 1_000_003 + epoch)  # dropout, repeatable per epoch
        network.train()
        total_loss, examples = 0.0, 0
        bar = tqdm(
            loader.batches(epoch),
            total=len(loader),
            desc=f"epoch {epoch}/{configuration.epochs}",
            unit="batch",
            disable=not progress or not distribution.main,
            leave=False,
        )
        for batch in bar:
            history = torch.from_numpy(batch["history"]).to(device)
            target = torch.from_numpy(batch["target"]).to(device)
            optimizer.zero_grad(set_to_none=True)
            # Mixed precision (bfloat16) on GPUs: only the linear layers run in bfloat16; the shift, the scaling
            # back to ppm and the loss stay in float32. On the CPU nothing changes, so results stay bit-identical.
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss = loss_function(network(history), target)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(target)
            examples += len(target)
            bar.set_postfix(loss=f"{total_loss / examples:.4f}")
        if distribution.world_size > 1:
            totals = torch.tensor([total_loss, examples], dtype=torch.float64)
            torch.distributed.all_reduce(totals)
            total_loss, examples = totals.tolist()
        measured = evaluate_network(unwrapped(network), validation, device)
        metrics = {
            "train_loss": total_loss / examples,
            "validation_mean_absolute_error": measured["mean_absolute_error"],
        }
        data, checkpoint = serialise_checkpoint(epoch, unwrapped(network), optimizer, configuration)
        record = record.evolve(
            epochs=(*record.epochs, EpochRecord(epoch, metrics)),
            checkpoints=(*[c for c in record.checkpoints if c.epoch < epoch], checkpoint),
        )
        # The disk's synchronisation runs on the writer thread while the next epoch trains; one write is
        # pending at most, so a kill loses at most the epoch in flight, and resuming repeats it exactly.
        _wait(pending)
        pending = writer.submit(persist_epoch, run_directory, data, record) if distribution.main else None
        logger.info("epoch %d: %s", epoch, json.dumps(metrics, sort_keys=True))
        if progress and distribution.main:
            print(
                f"epoch {epoch}/{configuration.epochs}: train loss {metrics['train_loss']:.4f} ppm, "
                f"validation mean absolute error {metrics['validation_mean_absolute_error']:.4f} ppm",
                file=sys.stderr,
            )
        if stop_after_epoch is not None and epoch >= stop_after_epoch:
            _wait(pending)
            record = record.evolve(status="interrupted")
            record.save(run_directory)
            return record
    _wait(pending)
    test = evaluate_network(
        unwrapped(network), BatchLoader(dataset_directory, "test", batch_size=512, shuffle=False), device
    )
    final_metrics = {
        "test_mean_absolute_error": test["mean_absolute_error"],
        "test_seasonal_naive_mean_absolute_error": test["seasonal_naive_mean_absolute_error"],
        "test_improvement_over_seasonal_naive": test["improvement_over_seasonal_naive"],
        "validation_mean_absolute_error": record.epochs[-1].metrics["validation_mean_absolute_error"],
    }
    record = record.evolve(
        status="completed",
        finished_at=utc_now(),
        final_metrics=final_metrics,
        baseline_comparison=compare_with_baseline(final_metrics, load_baseline()),
    )
    if distribution.main:
        record.save(run_directory)
    logger.info("completed: %s", json.dumps(final_metrics, sort_keys=True))
    return record


# Copied from digits-classifier-torch:digits_classifier_torch.model.default_tracking_uri
def default_tracking_uri() -> str:
    """The local MLflow store used unless a tracking address is given: a SQLite file beside the runs."""
    return f"sqlite:///{zoo_home() / 'mlflow' / 'mlflow.db'}"


# Copied from digits-classifier-torch:digits_classifier_torch.model.log_to_mlflow
def log_to_mlflow(
    run_directory: Path, tracking_uri: str | None = None, artifact: RepositoryEntry | None = None
) -> str:
    """Log a finished run to MLflow; returns the MLflow run's identifier.

    Parameters are the configuration, metrics are every epoch's (with the epoch as step) and the final ones,
    the lineage goes into tags (dataset fingerprint, code revision and dirtiness, lock digest, Python,
    platform, device, contracts version), and the run record and, when given, the exported repository entry
    are attached as artifacts. MLflow is an optional extra (``uv sync --extra mlflow``), so that runs that do
    not use it stay lean.
    """
    try:
        import mlflow
    except ImportError:
        raise ZooError(
            "MLflow is not installed in this environment; install the optional extra with "
            "`uv sync --extra mlflow`, or leave out --mlflow"
        ) from None
    record = RunRecord.load(run_directory)
    uri = tracking_uri or default_tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(MODEL_NAME)
    experiment_identifier = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(
            MODEL_NAME, artifact_location=(zoo_home() / "mlflow" / "artifacts").as_uri()
        )
    )
    tags = {
        "zoo.model_version": record.model_version,
        "zoo.run_directory": str(Path(run_directory).resolve()),
        "zoo.dataset_fingerprint": record.dataset_fingerprint,
        "zoo.code_revision": str(record.code.revision),
        "zoo.code_dirty": str(record.code.dirty).lower(),
        "zoo.lock_sha256": str(record.lock_sha256),
        "zoo.python": record.environment.python,
        "zoo.platform": record.environment.platform,
        "zoo.device": record.environment.device,
        "zoo.contracts_version": record.contracts_version,
        "zoo.status": record.status,
    }
    run = client.create_run(experiment_identifier, run_name=record.run_identifier, tags=tags)
    identifier = run.info.run_id
    for name, value in record.configuration.items():
        client.log_param(identifier, name, value)
    for epoch in record.epochs:
        for name, value in epoch.metrics.items():
            client.log_metric(identifier, name, value, step=epoch.epoch)
    for name, value in record.final_metrics.items():
        client.log_metric(identifier, f"final_{name}", value)
    client.log_artifact(identifier, str(Path(run_directory) / "run.json"))
    if artifact is not None:
        client.log_artifacts(
            identifier, str(artifact.version_directory), artifact_path="model-repository-entry"
        )
        client.log_artifact(
            identifier, str(artifact.configuration_path), artifact_path="model-repository-entry"
        )
    client.set_terminated(identifier, status="FINISHED" if record.status == "completed" else "FAILED")
    return identifier


# ----------------------------------------------------------------------------------------------------------
# 5. Evaluation against the seasonal-naive forecast
# ----------------------------------------------------------------------------------------------------------

IMPROVEMENT_GOAL = 0.2
"""The default configuration must beat the seasonal-naive forecast's mean absolute error by at least 20 %."""


def seasonal_naive_forecast(history: numpy.ndarray) -> numpy.ndarray:
    """The seasonal-naive forecast of each window: every target week takes the value 52 weeks before it.

    Those weeks lie inside the window (it holds 104), so the baseline needs nothing but the model's own input.
    """
    start = WINDOW_WEEKS - SEASON_WEEKS
    return history[:, start : start + HORIZON_WEEKS]


def measure_forecasts(
    forecast: numpy.ndarray, target: numpy.ndarray, history: numpy.ndarray
) -> dict[str, Any]:
    """Errors in ppm of a forecast and of the seasonal-naive forecast, overall and for each week ahead."""
    errors = numpy.abs(forecast.astype(numpy.float64) - target)
    naive_errors = numpy.abs(seasonal_naive_forecast(history).astype(numpy.float64) - target)
    mean_absolute_error = float(errors.mean())
    naive_mean_absolute_error = float(naive_errors.mean())
    return {
        "windows": len(target),
        "mean_absolute_error": mean_absolute_error,
        "root_mean_squared_error": float(numpy.sqrt(numpy.square(errors).mean())),
        "seasonal_naive_mean_absolute_error": naive_mean_absolute_error,
        "improvement_over_seasonal_naive": 1.0 - mean_absolute_error / naive_mean_absolute_error,
        "by_week_ahead": [
            {
                "week_ahead": week + 1,
                "mean_absolute_error": float(errors[:, week].mean()),
                "seasonal_naive_mean_absolute_error": float(naive_errors[:, week].mean()),
            }
            for week in range(HORIZON_WEEKS)
        ],
    }


# Diverged from digits-classifier-torch:digits_classifier_torch.model.evaluate_network: forecast errors against the seasonal-naive forecast instead of accuracy
@torch.no_grad()
def evaluate_network(network: nn.Module, loader: BatchLoader, device: torch.device) -> dict[str, Any]:
    """The network's forecast errors and the seasonal-naive forecast's, over one split (see measure_forecasts)."""
    network.eval()
    forecasts, targets, histories = [], [], []
    for batch in loader.batches(0):
        forecasts.append(network(torch.from_numpy(batch["history"]).to(device)).cpu().numpy())
        targets.append(batch["target"])
        histories.append(batch["history"])
    return measure_forecasts(
        numpy.concatenate(forecasts), numpy.concatenate(targets), numpy.concatenate(histories)
    )


def week_of(day: int) -> str:
    """The date of a day counted from 1970-01-01, as the dataset's ``origin_day`` counts them."""
    return str(numpy.datetime64("1970-01-01", "D") + numpy.timedelta64(int(day), "D"))


# Diverged from digits-classifier-torch:digits_classifier_torch.model.evaluate: forecast errors and the period they cover instead of a classification report
def evaluate(run_directory: Path, dataset_directory: Path, split: str = "test") -> dict[str, Any]:
    """Evaluate a run's final weights on a split; writes ``evaluation-<split>.json`` into the run directory."""
    predictor = NativePredictor(run_directory)
    loader = BatchLoader(dataset_directory, split, batch_size=512, shuffle=False)
    origins = loader.arrays["origin_day"]
    result = {
        "split": split,
        "first_target_week": week_of(origins.min() + 7),
        "last_target_week": week_of(origins.max() + 7 * HORIZON_WEEKS),
        **evaluate_network(predictor.network, loader, torch.device("cpu")),
    }
    write_json_atomically(Path(run_directory) / f"evaluation-{split}.json", result)
    return result


# Diverged from digits-classifier-torch:digits_classifier_torch.model.format_report: a table of forecast errors for each week ahead
def format_report(result: Mapping[str, Any]) -> str:
    """The evaluation as a table for the terminal."""
    improvement = result["improvement_over_seasonal_naive"]
    verdict = "meets" if improvement >= IMPROVEMENT_GOAL else "misses"
    lines = [
        f"{result['split']}: {result['windows']} windows, target weeks {result['first_target_week']} to "
        f"{result['last_target_week']}",
        f"mean absolute error {result['mean_absolute_error']:.4f} ppm (root mean squared error "
        f"{result['root_mean_squared_error']:.4f} ppm); seasonal naive "
        f"{result['seasonal_naive_mean_absolute_error']:.4f} ppm; improvement {improvement:.1%} ({verdict} the "
        f"goal of {IMPROVEMENT_GOAL:.0%})",
        f"{'week ahead':>10}{'model':>12}{'seasonal naive':>16}  (mean absolute error, ppm)",
    ]
    for row in result["by_week_ahead"]:
        lines.append(
            f"{row['week_ahead']:>10}{row['mean_absolute_error']:>12.4f}"
            f"{row['seasonal_naive_mean_absolute_error']:>16.4f}"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# 6. Prediction: the native predictor, the ONNX predictor, and reading past weekly values
# ----------------------------------------------------------------------------------------------------------

# Diverged from digits-classifier-torch:digits_classifier_torch.model.INPUT_SPECIFICATIONS: windows of past weekly values
INPUT_SPECIFICATIONS = (TensorSpecification("history", "float32", (-1, WINDOW_WEEKS)),)
"""The predictors' inputs: a batch of windows of the last 104 weekly means in ppm, oldest first."""
# Diverged from digits-classifier-torch:digits_classifier_torch.model.OUTPUT_SPECIFICATIONS: the forecast weeks
OUTPUT_SPECIFICATIONS = (TensorSpecification("forecast", "float32", (-1, HORIZON_WEEKS)),)
"""The predictors' outputs: the weekly means in ppm of the 13 weeks after each window, nearest first."""


# Copied from digits-classifier-torch:digits_classifier_torch.model.final_checkpoint
def final_checkpoint(run_directory: Path) -> tuple[RunRecord, CheckpointRecord]:
    """A completed run's record and its last checkpoint, or an error that says what to do."""
    record = RunRecord.load(run_directory)
    if record.status != "completed" or not record.checkpoints:
        raise ZooError(
            f"{run_directory}: the run is {record.status}, not completed; resume it with "
            f"`train --resume {run_directory}` first"
        )
    return record, record.checkpoints[-1]


# Diverged from digits-classifier-torch:digits_classifier_torch.model.NativePredictor: the forecaster's network and tensors
class NativePredictor:
    """The PyTorch predictor of a completed run's final checkpoint."""

    input_specifications = INPUT_SPECIFICATIONS
    output_specifications = OUTPUT_SPECIFICATIONS

    def __init__(self, run_directory: Path) -> None:
        self.record, checkpoint = final_checkpoint(Path(run_directory))
        configuration = Configuration.from_dict(self.record.configuration)
        weights, _ = load_checkpoint(Path(run_directory), checkpoint, configuration)
        self.network = ForecastNetwork(configuration.hidden_size, configuration.dropout)
        self.network.load_state_dict(weights)
        self.network.eval()

    @torch.no_grad()
    def predict(self, inputs: Mapping[str, numpy.ndarray]) -> dict[str, numpy.ndarray]:
        """Forecasts for a batch of windows of past weekly means."""
        validate_inputs(self.input_specifications, inputs)
        return {"forecast": self.network(torch.from_numpy(inputs["history"])).numpy()}


# Copied from digits-classifier-torch:digits_classifier_torch.model.OnnxPredictor
class OnnxPredictor:
    """The ONNX Runtime predictor of a ``model.onnx`` file under the given tensor specifications."""

    def __init__(
        self,
        onnx_path: Path,
        input_specifications: tuple[TensorSpecification, ...] = INPUT_SPECIFICATIONS,
        output_specifications: tuple[TensorSpecification, ...] = OUTPUT_SPECIFICATIONS,
        *,
        threads: int = 1,
    ) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.input_specifications = input_specifications
        self.output_specifications = output_specifications

    def predict(self, inputs: Mapping[str, numpy.ndarray]) -> dict[str, numpy.ndarray]:
        """Run the exported model on a batch of inputs."""
        validate_inputs(self.input_specifications, inputs)
        names = [specification.name for specification in self.output_specifications]
        return dict(zip(names, self.session.run(names, dict(inputs)), strict=True))


# Copied from digits-classifier-torch:digits_classifier_torch.model.load_native_predictor
def load_native_predictor(run_directory: Path) -> NativePredictor:
    """The native predictor of a completed run (the conformance suite's entry point)."""
    return NativePredictor(run_directory)


# Copied from digits-classifier-torch:digits_classifier_torch.model.load_onnx_predictor
def load_onnx_predictor(version_directory: Path) -> OnnxPredictor:
    """The ONNX predictor of an exported version folder, loaded as a deployer loads it.

    The tensor specifications come from the artifact manifest, and ``model.onnx`` must match its SHA-256.
    """
    version_directory = Path(version_directory)
    manifest = ArtifactManifest.load(version_directory / "artifact.json")
    manifest.verify_onnx(version_directory / "model.onnx")
    return OnnxPredictor(version_directory / "model.onnx", manifest.inputs, manifest.outputs)


# Diverged from digits-classifier-torch:digits_classifier_torch.model.read_prediction_input: past weekly values from .npy or .csv instead of images
def read_prediction_input(path: Path) -> numpy.ndarray:
    """Read windows of past weekly means from a ``.npy`` or ``.csv`` file; returns ``float32`` of shape (n, 104).

    A ``.npy`` array has the shape (104,) for one window or (n, 104) for n windows. A ``.csv`` file holds
    either one value per line (one window: 104 lines) or one window per line (104 values separated by
    commas); blank lines are skipped, and there is no header. The values are weekly means in ppm of
    consecutive weeks, oldest first, ending with the last week before the forecast, with no week missing.
    """
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        array = read_csv_values(path)
    elif suffix == ".npy":
        try:
            array = numpy.load(path, allow_pickle=False)
        except ValueError as error:
            raise ZooError(f"{path}: cannot be read as a numpy array ({error})") from None
        if array.dtype.kind not in "iuf":
            raise ZooError(
                f"{path}: the array holds {array.dtype} values; give weekly means in ppm as numbers"
            )
    else:
        raise ZooError(f"{path}: unsupported input; give a .npy array or a .csv file of past weekly values")
    if array.ndim == 1:
        if len(array) != WINDOW_WEEKS:
            raise ZooError(
                f"{path}: {len(array)} weekly values, but the model reads exactly the last {WINDOW_WEEKS} "
                f"weeks (two years), oldest first: give {WINDOW_WEEKS} values"
            )
        array = array.reshape(1, WINDOW_WEEKS)
    elif array.ndim != 2 or array.shape[1] != WINDOW_WEEKS:
        raise ZooError(
            f"{path}: the array's shape is {list(array.shape)}; expected [{WINDOW_WEEKS}] for one window or "
            f"[n, {WINDOW_WEEKS}] for n windows of the last {WINDOW_WEEKS} weekly values"
        )
    if len(array) == 0:
        raise ZooError(f"{path}: the array holds no windows")
    unmeasured = numpy.argwhere(~numpy.isfinite(array))
    if len(unmeasured):
        row, column = (int(each) for each in unmeasured[0])
        raise ZooError(
            f"{path}: window {row + 1}, week {column + 1} has no value ({array[row, column]}); fill missing "
            "weeks first, for example by linear interpolation between the measured weeks around them, as the "
            "training data was filled"
        )
    if array.min() <= 0:
        raise ZooError(
            f"{path}: weekly means of carbon dioxide are positive ppm, found {array.min()}; give the values "
            "in parts per million"
        )
    return array.astype(numpy.float32)


def read_csv_values(path: Path) -> numpy.ndarray:
    """The numbers of a ``.csv`` file: one dimension for one value per line, two for several per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ZooError(
            f"{path}: not a text file; a .csv file holds numbers separated by commas and line breaks"
        ) from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append([float(cell) for cell in line.split(",")])
        except ValueError:
            raise ZooError(
                f"{path}, line {number}: {line.strip()!r} is not a list of numbers; write one weekly value "
                "per line, or one window of values separated by commas per line, without a header"
            ) from None
    widths = sorted({len(row) for row in rows})
    if len(widths) > 1:
        raise ZooError(
            f"{path}: the lines hold different numbers of values ({', '.join(map(str, widths))}); write one "
            f"value per line, or {WINDOW_WEEKS} values on every line"
        )
    array = numpy.array(rows, dtype=numpy.float64)
    return array if widths and widths[0] > 1 else array.reshape(-1)


def describe_forecasts(forecast: numpy.ndarray) -> list[list[float]]:
    """Each window's forecast in ppm, rounded to 0.01 ppm (the precision the series is reported at, and finer)."""
    return [[round(float(value), 2) for value in row] for row in forecast]


# ----------------------------------------------------------------------------------------------------------
# 7. Export to ONNX, as a Triton model repository entry, with the parity check
# ----------------------------------------------------------------------------------------------------------

# Diverged from digits-classifier-torch:digits_classifier_torch.model.PARITY_TOLERANCE: a tolerance in ppm for forecasts
PARITY_TOLERANCE = 0.001
"""The largest absolute difference in ppm allowed between the ONNX and the PyTorch forecasts."""
REPORTED_PRECISION = 0.01
"""The precision in ppm that forecasts are reported at; the parity check's identical forecasts are judged at it."""
# Copied from digits-classifier-torch:digits_classifier_torch.model.MAX_BATCH_SIZE
MAX_BATCH_SIZE = 1024
"""The largest batch a server sends to the exported model in one call."""


# Copied from digits-classifier-torch:digits_classifier_torch.model.default_model_repository
def default_model_repository() -> Path:
    """The one model repository, at the repository's root, that one server serves for every model."""
    return zoo_home() / "model-repository"


# Diverged from digits-classifier-torch:digits_classifier_torch.model.check_parity: forecasts are identical when they agree at the reported precision, not by class
def check_parity(
    native: NativePredictor | OnnxPredictor,
    exported: NativePredictor | OnnxPredictor,
    history: numpy.ndarray,
    tolerance: float = PARITY_TOLERANCE,
) -> ParityReport:
    """Compare two predictors on the same windows: largest absolute difference and identical forecasts.

    The forecasts count as identical when every one agrees within half of ``REPORTED_PRECISION`` (0.005
    ppm), so that both round to the same 0.01 ppm or, where a value sits on a rounding boundary, to
    neighbouring ones. Comparing the rounded values themselves would call a difference of one float32 step
    (3e-5 ppm at 400 ppm) a disagreement whenever it straddles a boundary, which happens for about one
    forecast in 300.
    """
    expected = native.predict({"history": history})["forecast"].astype(numpy.float64)
    actual = exported.predict({"history": history})["forecast"].astype(numpy.float64)
    largest = float(numpy.abs(expected - actual).max())
    return ParityReport(
        examples=len(history),
        largest_absolute_difference=largest,
        tolerance=tolerance,
        identical_predictions=largest < REPORTED_PRECISION / 2,
    )


# Diverged from digits-classifier-torch:digits_classifier_torch.model.require_parity: the message speaks of forecasts in ppm
def require_parity(parity: ParityReport, model_repository: Path) -> None:
    """Stop an export whose ONNX model disagrees with PyTorch, saying by how much."""
    if not parity.passed:
        raise ZooError(
            f"the ONNX export disagrees with PyTorch on the test split: largest absolute difference "
            f"{parity.largest_absolute_difference:.3g} ppm (allowed {parity.tolerance:.3g}), identical forecasts "
            f"at {REPORTED_PRECISION} ppm: {parity.identical_predictions}. Nothing was written to "
            f"{model_repository}"
        )


# Diverged from digits-classifier-torch:digits_classifier_torch.model.export: the forecaster's tensors, no labels, its preprocessing
def export(
    run_directory: Path,
    model_repository: Path,
    *,
    dataset_directory: Path,
    version: int | None = None,
    tolerance: float = PARITY_TOLERANCE,
) -> RepositoryEntry:
    """Export a completed run to ``<repository>/<model>/<version>/`` and prove it agrees with PyTorch.

    The version folder is assembled beside its final place and moved in only after the parity check on
    the whole test split passes; if it fails, nothing in the repository changes and the error says by how
    much the two predictors differed.
    """
    run_directory = Path(run_directory)
    native = NativePredictor(run_directory)
    model_directory = Path(model_repository) / MODEL_NAME
    if version is None:
        version = max(available_versions(model_directory), default=0) + 1
    entry = RepositoryEntry(Path(model_repository), MODEL_NAME, version)
    if entry.version_directory.exists():
        raise ZooError(
            f"{entry.version_directory} exists; export to another --version, or leave --version out to "
            "take the next free one"
        )
    staging = model_directory / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        onnx_path = staging / "model.onnx"
        write_onnx(native.network, onnx_path)
        exported = OnnxPredictor(onnx_path)
        test = BatchLoader(dataset_directory, "test", batch_size=1, shuffle=False)
        parity = check_parity(native, exported, test.arrays["history"], tolerance)
        require_parity(parity, model_repository)
        record_path = run_directory / "run.json"
        manifest = ArtifactManifest(
            model_name=MODEL_NAME,
            model_version=MODEL_VERSION,
            inputs=INPUT_SPECIFICATIONS,
            outputs=OUTPUT_SPECIFICATIONS,
            onnx_sha256=sha256_file(onnx_path),
            onnx_opset=max(
                each.version for each in onnx.load(str(onnx_path)).opset_import if each.domain == ""
            ),
            run=RunReference(
                run_identifier=native.record.run_identifier,
                record_path=str(record_path.resolve()),
                record_sha256=sha256_file(record_path),
                dataset_fingerprint=native.record.dataset_fingerprint,
            ),
            parity=parity,
            preprocessing={
                "input": f"history: float32, the last {WINDOW_WEEKS} weekly means of atmospheric carbon dioxide "
                "at Mauna Loa in ppm (parts per million), oldest first, one per consecutive week with none "
                "missing (fill gaps first, as the training data was filled: "
                f"{FILL_METHOD})",
                "output": f"forecast: float32, the weekly means in ppm of the {HORIZON_WEEKS} weeks after the "
                "last input week, nearest first",
                "parity": f"identical_predictions means every forecast agrees within half of "
                f"{REPORTED_PRECISION} ppm, the precision forecasts are reported at",
            },
            metrics=native.record.final_metrics,
        )
        manifest.save(staging / "artifact.json")
        ModelConfiguration(
            name=MODEL_NAME,
            inputs=INPUT_SPECIFICATIONS,
            outputs=OUTPUT_SPECIFICATIONS,
            max_batch_size=MAX_BATCH_SIZE,
            dynamic_batching=DynamicBatching(max_queue_delay_microseconds=500),
            parameters={"intra_op_thread_count": "1"},
        ).save(entry.configuration_path)
        staging.rename(entry.version_directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return entry


# Diverged from digits-classifier-torch:digits_classifier_torch.model.write_onnx: the forecaster's tensor names and window
def write_onnx(network: nn.Module, path: Path) -> None:
    """Write one self-contained ``model.onnx`` (weights inside) with a dynamic batch dimension."""
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    network.eval()
    torch.onnx.export(
        network,
        (torch.zeros(2, WINDOW_WEEKS),),
        str(path),
        input_names=["history"],
        output_names=["forecast"],
        dynamic_shapes=({0: torch.export.Dim("batch", max=MAX_BATCH_SIZE)},),
        external_data=False,
        dynamo=True,
        verbose=False,
    )
    onnx.checker.check_model(str(path), full_check=True)


# Diverged from digits-classifier-torch:digits_classifier_torch.model.verify_export: forecast errors through ONNX Runtime instead of accuracy
def verify_export(entry: RepositoryEntry, dataset_directory: Path) -> dict[str, Any]:
    """Load an exported version as a deployer would (SHA-256 checked) and measure it on the test split."""
    predictor = load_onnx_predictor(entry.version_directory)
    test = BatchLoader(dataset_directory, "test", batch_size=1, shuffle=False)
    forecast = predictor.predict({"history": test.arrays["history"]})["forecast"]
    measured = measure_forecasts(forecast, test.arrays["target"], test.arrays["history"])
    return {
        "version_directory": str(entry.version_directory),
        "test_mean_absolute_error": measured["mean_absolute_error"],
        "test_seasonal_naive_mean_absolute_error": measured["seasonal_naive_mean_absolute_error"],
        "test_improvement_over_seasonal_naive": measured["improvement_over_seasonal_naive"],
    }


# ----------------------------------------------------------------------------------------------------------
# 8. Reproduction of a recorded run
# ----------------------------------------------------------------------------------------------------------


# Copied from digits-classifier-torch:digits_classifier_torch.model.same_platform
def same_platform(first: EnvironmentRecord, second: EnvironmentRecord) -> bool:
    """Whether bit-identical results are expected: same interpreter, platform, libraries, device, threads."""
    return first == second


# Copied from digits-classifier-torch:digits_classifier_torch.model.reproduce
def reproduce(
    source: Path,
    *,
    dataset_directory: Path,
    runs_directory: Path,
    allow_dirty: bool = False,
    progress: bool = True,
    package_directory: Path = PACKAGE_DIRECTORY,
) -> dict[str, Any]:
    """Re-run a recorded run's configuration on its dataset and check that the result is the same.

    Refuses, before training, when the lineage differs: another dataset fingerprint, another lock, or a tree
    with uncommitted changes (unless ``allow_dirty``, which the result then says). On the same platform the
    checkpoints and metrics must be bit-identical; elsewhere the final metrics must agree within the
    tolerance the record states. The result is written to ``reproduction.json`` in the new run directory.
    """
    original = RunRecord.load(source)
    if original.status != "completed":
        raise ZooError(f"{source}: the run is {original.status}; only a completed run can be reproduced")
    configuration = Configuration.from_dict(original.configuration)
    manifest = prepare_dataset(dataset_directory)
    if manifest.fingerprint() != original.dataset_fingerprint:
        raise ZooError(
            f"the run trained on dataset {original.dataset_fingerprint[:12]}, but {dataset_directory} holds "
            f"{manifest.fingerprint()[:12]}: another dataset. Point --dataset-directory to the recorded one"
        )
    current_lock = lock_sha256(package_directory)
    if current_lock != original.lock_sha256:
        raise ZooError(
            f"the run used the lock {str(original.lock_sha256)[:12]}, this package's uv.lock is now "
            f"{str(current_lock)[:12]}: the dependencies differ. Check out the recorded revision "
            f"({original.code.revision}) to reproduce it"
        )
    lineage = code_lineage(package_directory)
    notes = []
    if lineage.dirty:
        if not allow_dirty:
            raise ZooError(
                "the package has uncommitted changes, so the code is not the recorded code; commit or "
                "stash them, or pass --allow-dirty to reproduce anyway (the result will say so)"
            )
        notes.append("reproduced from a working tree with uncommitted changes (--allow-dirty)")
    if lineage.revision != original.code.revision:
        notes.append(f"code revision {lineage.revision} differs from the recorded {original.code.revision}")
    run_directory = new_run_directory(
        runs_directory, configuration, f"reproduction-of-{original.run_identifier}-"
    )
    reproduced = train(
        configuration, dataset_directory=dataset_directory, run_directory=run_directory, progress=progress
    )
    identical_platform = same_platform(original.environment, reproduced.environment)
    checks = []
    if identical_platform:
        mode = "bit-identical"
        checks.append(
            {
                "check": "checkpoints",
                "passed": [c.sha256 for c in reproduced.checkpoints]
                == [c.sha256 for c in original.checkpoints],
            }
        )
        checks.append({"check": "metrics per epoch", "passed": reproduced.epochs == original.epochs})
        checks.append(
            {"check": "final metrics", "passed": reproduced.final_metrics == original.final_metrics}
        )
    else:
        mode = "within tolerance"
        for metric, tolerance in sorted(original.reproduction_tolerance.items()):
            difference = abs(reproduced.final_metrics[metric] - original.final_metrics[metric])
            checks.append(
                {
                    "check": metric,
                    "passed": difference <= tolerance,
                    "difference": difference,
                    "tolerance": tolerance,
                }
            )
    result = {
        "original": str(Path(source).resolve()),
        "reproduction": str(run_directory.resolve()),
        "mode": mode,
        "reproduced": all(check["passed"] for check in checks),
        "checks": checks,
        "notes": notes,
    }
    reproduced.evolve(notes=tuple(notes)).save(run_directory)
    write_json_atomically(run_directory / "reproduction.json", result)
    return result


# Copied from digits-classifier-torch:digits_classifier_torch.model.refresh_baseline
def refresh_baseline(run_directory: Path, baseline_directory: Path = BASELINE_DIRECTORY) -> Path:
    """Make a completed run with the default configuration the committed baseline (a deliberate act)."""
    record = RunRecord.load(run_directory)
    if record.status != "completed":
        raise ZooError(
            f"{run_directory}: the run is {record.status}; only a completed run can be the baseline"
        )
    if Configuration.from_dict(record.configuration) != Configuration():
        raise ZooError(
            f"{run_directory}: the run did not use the default configuration; the baseline must be what the "
            "defaults reproduce"
        )
    return record.evolve(baseline_comparison=()).save(baseline_directory)


# ----------------------------------------------------------------------------------------------------------
# 9. The command line
# ----------------------------------------------------------------------------------------------------------

# Diverged from digits-classifier-torch:digits_classifier_torch.model.TINY_TRAINING_OPTIONS: the forecaster's fields
TINY_TRAINING_OPTIONS = ("--epochs", "2", "--hidden-size", "8", "--batch-size", "128")
"""Options that make training take a second or two: the conformance suite and the tests use them."""


# Copied from digits-classifier-torch:digits_classifier_torch.model.resolve_run
def resolve_run(value: str, runs_directory: Path) -> Path:
    """A run named on the command line: a path, a name inside the runs folder, or ``latest`` (completed)."""
    if value == "latest":
        completed = [
            (record.started_at, path)
            for path in sorted(Path(runs_directory).glob("*/run.json"))
            if (record := RunRecord.load(path.parent)).status == "completed"
        ]
        if not completed:
            raise ZooError(f"{runs_directory}: no completed run yet; train one with `train` first")
        return max(completed)[1].parent
    for candidate in (Path(value), Path(runs_directory) / value):
        if (candidate / "run.json").is_file():
            return candidate
    raise ZooError(f"no run {value!r}: neither a run directory nor a run inside {runs_directory}")


# Copied from digits-classifier-torch:digits_classifier_torch.model._add_directories
def _add_directories(parser: argparse.ArgumentParser, *names: str) -> None:
    helps = {
        "dataset": (
            "--dataset-directory",
            f"the prepared dataset (default: datasets/{DATASET_NAME}/{DATASET_VERSION})",
        ),
        "runs": ("--runs-directory", f"the folder of one directory per run (default: runs/{MODEL_NAME})"),
        "repository": ("--model-repository", "the Triton model repository (default: model-repository)"),
    }
    for name in names:
        option, text = helps[name]
        parser.add_argument(option, type=Path, default=None, help=text)


# Copied from digits-classifier-torch:digits_classifier_torch.model._add_configuration_options
def _add_configuration_options(parser: argparse.ArgumentParser) -> None:
    documentation = field_documentation(Configuration)
    group = parser.add_argument_group("configuration (defaults reproduce the baseline)")
    for field in dataclasses.fields(Configuration):
        group.add_argument(
            "--" + field.name.replace("_", "-"),
            type=float if field.type == "float" else int,
            default=None,
            metavar=field.name.upper(),
            help=f"{documentation[field.name]} (default: {field.default})",
        )


# Copied from digits-classifier-torch:digits_classifier_torch.model._add_common
def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-progress", action="store_true", help="hide the progress bars and per-epoch lines"
    )
    parser.add_argument(
        "--mlflow",
        action="store_true",
        help="also log the run to MLflow (needs the optional extra: uv sync --extra mlflow)",
    )
    parser.add_argument(
        "--tracking-uri",
        help="the MLflow tracking address (default: sqlite:///mlflow/mlflow.db under the repository's root)",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="cpu",
        help="where to train: cpu (default, bit-identical results), cuda, or auto (CUDA when available)",
    )


# Diverged from digits-classifier-torch:digits_classifier_torch.model.build_parser: the forecaster's descriptions and predict's inputs
def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per pipeline step, and ``pipeline`` for all of them."""
    parser = argparse.ArgumentParser(
        prog=MODEL_NAME,
        description="Forecast the weekly atmospheric carbon dioxide at Mauna Loa (the series bundled with "
        f"statsmodels) {HORIZON_WEEKS} weeks ahead from the last {WINDOW_WEEKS} weeks, with a small PyTorch "
        "network: prepare the data, train, evaluate against the seasonal-naive forecast, export to ONNX, "
        "predict, and reproduce a recorded run.",
        epilog="Default folders are relative to the repository's root (the nearest folder upward holding "
        "packages/ and shared-contracts/), or to $ZOO_HOME when it is set.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    prepare = commands.add_parser(
        "prepare-data", help="fill the series' missing weeks and write its windows in the dataset contract"
    )
    _add_directories(prepare, "dataset")
    prepare.add_argument("--force", action="store_true", help="prepare again even if a dataset is there")

    train_command = commands.add_parser("train", help="train a network, checkpointing every epoch")
    _add_directories(train_command, "dataset", "runs")
    train_command.add_argument(
        "--run-name", help="the run directory's name (default: time and configuration)"
    )
    train_command.add_argument(
        "--resume",
        metavar="RUN",
        help="continue an interrupted run (a name, a path, or latest is not allowed)",
    )
    _add_common(train_command)
    _add_configuration_options(train_command)

    evaluate_command = commands.add_parser(
        "evaluate", help="mean absolute error of a run against the seasonal-naive forecast, week by week"
    )
    evaluate_command.add_argument(
        "--run", default="latest", help="the run: a name, a path or latest (default)"
    )
    evaluate_command.add_argument(
        "--split", default="test", choices=("train", "validation", "test"), help="the split (default: test)"
    )
    _add_directories(evaluate_command, "dataset", "runs")

    export_command = commands.add_parser("export", help="export a run to ONNX in the model repository")
    export_command.add_argument("--run", default="latest", help="the run: a name, a path or latest (default)")
    export_command.add_argument("--version", type=int, help="the version folder (default: the next free one)")
    export_command.add_argument(
        "--parity-tolerance",
        type=float,
        default=PARITY_TOLERANCE,
        help=f"the largest difference in ppm allowed between ONNX and PyTorch (default: {PARITY_TOLERANCE})",
    )
    _add_directories(export_command, "dataset", "runs", "repository")

    predict = commands.add_parser(
        "predict", help=f"forecast the next {HORIZON_WEEKS} weeks from past weekly values in .npy or .csv"
    )
    predict.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        help=f"the .npy or .csv files of the last {WINDOW_WEEKS} weekly means in ppm, oldest first: one "
        f"window ({WINDOW_WEEKS} values, one per line in a .csv) or one window per row",
    )
    predict.add_argument(
        "--version", type=int, help="the exported version to use (default: the highest in the repository)"
    )
    predict.add_argument("--run", help="use this run's PyTorch weights instead of the exported ONNX model")
    predict.add_argument("--json", action="store_true", help="print the forecasts as JSON")
    _add_directories(predict, "runs", "repository")

    reproduce_command = commands.add_parser("reproduce", help="re-run a recorded run and verify the result")
    reproduce_command.add_argument(
        "source", help="a run (name or path), or `baseline` for the committed baseline"
    )
    reproduce_command.add_argument(
        "--allow-dirty",
        action="store_true",
        help="go on although the code has uncommitted changes (recorded)",
    )
    _add_directories(reproduce_command, "dataset", "runs")
    reproduce_command.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    baseline = commands.add_parser("refresh-baseline", help="make a completed default run the baseline")
    baseline.add_argument("run", help="the run: a name, a path or latest")
    baseline.add_argument(
        "--baseline-directory",
        type=Path,
        default=BASELINE_DIRECTORY,
        help="where the baseline is written (default: the package's baseline/ folder, to be committed)",
    )
    _add_directories(baseline, "runs")

    pipeline = commands.add_parser(
        "pipeline", help="prepare the data, train, evaluate, export and verify the export, in one go"
    )
    _add_directories(pipeline, "dataset", "runs", "repository")
    pipeline.add_argument("--run-name", help="the run directory's name (default: time and configuration)")
    _add_common(pipeline)
    _add_configuration_options(pipeline)
    return parser


# Copied from digits-classifier-torch:digits_classifier_torch.model.command_line_help
def command_line_help() -> str:
    """The ``--help`` of the command and of every subcommand, as the documentation shows it."""
    parser = build_parser()
    parts = [parser.format_help()]
    subcommands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    for name, subparser in subcommands.choices.items():
        parts.append(f"\n{'=' * 100}\n{MODEL_NAME} {name} --help\n{'=' * 100}\n{subparser.format_help()}")
    return "".join(parts)


# Copied from digits-classifier-torch:digits_classifier_torch.model._configuration_from
def _configuration_from(arguments: argparse.Namespace, base: Configuration) -> Configuration:
    changes = {
        field.name: getattr(arguments, field.name)
        for field in dataclasses.fields(Configuration)
        if getattr(arguments, field.name) is not None
    }
    return dataclasses.replace(base, **changes)


# Copied from digits-classifier-torch:digits_classifier_torch.model._train_command
def _train_command(arguments: argparse.Namespace, dataset: Path, runs: Path) -> Path:
    if arguments.resume:
        run_directory = resolve_run(arguments.resume, runs)
        base = Configuration.from_dict(RunRecord.load(run_directory).configuration)
        configuration = _configuration_from(arguments, base)
    else:
        configuration = _configuration_from(arguments, Configuration())
        run_directory = (
            runs / arguments.run_name if arguments.run_name else new_run_directory(runs, configuration)
        )
    prepare_dataset(dataset)
    print(f"run directory: {run_directory}")
    try:
        record = train(
            configuration,
            dataset_directory=dataset,
            run_directory=run_directory,
            resume=bool(arguments.resume),
            progress=not arguments.no_progress,
            device=arguments.device,
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: {MODEL_NAME} train --resume {run_directory}", file=sys.stderr)
        raise
    print(json.dumps(record.final_metrics, indent=2, sort_keys=True))
    print(format_comparison(record.baseline_comparison))
    if arguments.mlflow and arguments.command == "train":
        print(f"logged to MLflow as run {log_to_mlflow(run_directory, arguments.tracking_uri)}")
    return run_directory


# Copied from digits-classifier-torch:digits_classifier_torch.model.main
def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 a failed check, 2 an error, 130 interrupted)."""
    arguments = build_parser().parse_args(argv)
    dataset = (
        arguments.dataset_directory or default_dataset_directory()
        if "dataset_directory" in arguments
        else None
    )
    runs = arguments.runs_directory or default_runs_directory() if "runs_directory" in arguments else None
    repository = (
        arguments.model_repository or default_model_repository() if "model_repository" in arguments else None
    )
    try:
        if arguments.command == "prepare-data":
            manifest = prepare_dataset(dataset, force=arguments.force)
            print(
                f"dataset {manifest.name} {manifest.version} at {dataset}, fingerprint {manifest.fingerprint()}"
            )
            for split in manifest.splits:
                print(f"  {split.name}: {split.rows} examples in {len(split.shards)} shard(s)")
        elif arguments.command == "train":
            _train_command(arguments, dataset, runs)
        elif arguments.command == "evaluate":
            result = evaluate(resolve_run(arguments.run, runs), dataset, arguments.split)
            print(format_report(result))
        elif arguments.command == "export":
            run_directory = resolve_run(arguments.run, runs)
            entry = export(
                run_directory,
                repository,
                dataset_directory=dataset,
                version=arguments.version,
                tolerance=arguments.parity_tolerance,
            )
            parity = ArtifactManifest.load(entry.manifest_path).parity
            print(
                f"exported {run_directory.name} to {entry.version_directory} (parity on {parity.examples} test "
                f"examples: largest difference {parity.largest_absolute_difference:.2e})"
            )
        elif arguments.command == "predict":
            _predict_command(arguments, runs, repository)
        elif arguments.command == "reproduce":
            source = (
                BASELINE_DIRECTORY if arguments.source == "baseline" else resolve_run(arguments.source, runs)
            )
            result = reproduce(
                source,
                dataset_directory=dataset,
                runs_directory=runs,
                allow_dirty=arguments.allow_dirty,
                progress=not arguments.no_progress,
            )
            print(json.dumps(result, indent=2))
            print("reproduced" if result["reproduced"] else "NOT reproduced: see the checks above")
            return 0 if result["reproduced"] else 1
        elif arguments.command == "refresh-baseline":
            path = refresh_baseline(resolve_run(arguments.run, runs), arguments.baseline_directory)
            print(f"baseline refreshed: {path}; review and commit it")
        else:  # pipeline
            return _pipeline_command(arguments, dataset, runs, repository)
    except (ZooError, ContractError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


# Diverged from digits-classifier-torch:digits_classifier_torch.model._predict_command: forecasts of past weekly values instead of digits
def _predict_command(arguments: argparse.Namespace, runs: Path, repository: Path) -> None:
    if arguments.run:
        predictor: NativePredictor | OnnxPredictor = NativePredictor(resolve_run(arguments.run, runs))
    else:
        versions = available_versions(repository / MODEL_NAME)
        version = arguments.version or max(versions, default=0)
        if version not in versions:
            raise ZooError(
                f"{repository / MODEL_NAME}: no exported version {version or ''}; export a run first, or give "
                "--run to use a run's PyTorch weights"
            )
        predictor = load_onnx_predictor(RepositoryEntry(repository, MODEL_NAME, version).version_directory)
    results = []
    for path in arguments.inputs:
        forecast = predictor.predict({"history": read_prediction_input(path)})["forecast"]
        results.append({"input": str(path), "forecasts": describe_forecasts(forecast)})
    if arguments.json:
        print(json.dumps(results, indent=2))
        return
    for result in results:
        for row, weeks in enumerate(result["forecasts"]):
            values = ", ".join(f"{value:.2f}" for value in weeks)
            print(f"{result['input']} [{row}]: the next {HORIZON_WEEKS} weeks, in ppm: {values}")


# Diverged from digits-classifier-torch:digits_classifier_torch.model._pipeline_command: the verification reports forecast errors
def _pipeline_command(arguments: argparse.Namespace, dataset: Path, runs: Path, repository: Path) -> int:
    print(f"1/5 prepare the data: {dataset}")
    prepare_dataset(dataset)
    print("2/5 train")
    arguments.resume = None
    run_directory = _train_command(arguments, dataset, runs)
    print("3/5 evaluate")
    print(format_report(evaluate(run_directory, dataset)))
    print(f"4/5 export to {repository}")
    entry = export(run_directory, repository, dataset_directory=dataset)
    print("5/5 verify the export")
    verification = verify_export(entry, dataset)
    print(
        f"the exported model at {verification['version_directory']} has test mean absolute error "
        f"{verification['test_mean_absolute_error']:.4f} ppm through ONNX Runtime (seasonal naive "
        f"{verification['test_seasonal_naive_mean_absolute_error']:.4f} ppm, improvement "
        f"{verification['test_improvement_over_seasonal_naive']:.1%})"
    )
    if arguments.mlflow:
        print(f"logged to MLflow as run {log_to_mlflow(run_directory, arguments.tracking_uri, entry)}")
    return 0
