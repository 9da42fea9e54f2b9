"""Benchmark of the data backend: streaming a large dataset against reading the same bytes straight from disk.

It writes a synthetic dataset of at least 1 GB in the dataset contract (64 shards of 16 MiB by default,
float32 features), then, alternated over several repetitions, measures:

- raw read: every shard file read from disk into memory, one after the other (what any loader must pay);
- the loader: digits-classifier-torch's ShardStream over the same shards (prefetching threads, SHA-256
  checked, decoded, shuffled within each shard, cut into batches).

Before each side of each repetition the operating system's page cache is dropped (as root, where the
system allows it), so both sides read from the disk itself; where it cannot be dropped both read from the
cache, which measures the loader's own cost against a memory copy, and the output says so. It prints medians
and the ratio
(goal: the loader at least 80 % of raw read speed), and the examples per second the loader delivers against
the examples per second the digits model's training step consumes (it must never starve it).

Run from the repository's root:

    uv run --project packages/digits-classifier-torch python benchmarks/data-backend/run.py
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy
from digits_classifier_torch import model

from shared_contracts import DatasetManifest, SplitRecord, TensorSpecification, write_shard

FEATURES = (TensorSpecification("pixels", "float32", (64,)), TensorSpecification("label", "int64", ()))


def write_dataset(directory: Path, shards: int, rows_per_shard: int) -> DatasetManifest:
    generator = numpy.random.default_rng(0)
    records = []
    for index in range(shards):
        arrays = {
            "pixels": generator.random((rows_per_shard, 64), dtype=numpy.float32) * 16,
            "label": generator.integers(0, 10, rows_per_shard),
        }
        records.append(write_shard(directory, f"train/shard-{index:05d}.npz", arrays, FEATURES))
    manifest = DatasetManifest(
        "synthetic", "1", "benchmarks/data-backend", "none", FEATURES, (SplitRecord("train", tuple(records)),)
    )
    manifest.save(directory)
    return manifest


def drop_page_cache() -> bool:
    """Empty the page cache, so that the next read comes from the disk; whether it could be done."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def raw_read(directory: Path, manifest: DatasetManifest) -> int:
    total = 0
    for shard in manifest.split("train").shards:
        total += len((directory / shard.path).read_bytes())
    return total


def stream(directory: Path, batch_size: int, epoch: int) -> int:
    rows = 0
    for batch in model.ShardStream(directory, "train", batch_size=batch_size, seed=0).batches(epoch):
        rows += len(batch["label"])
    return rows


def training_examples_per_second() -> float:
    """How fast the digits model's default training consumes examples (one epoch, after a warm-up)."""
    work = Path(tempfile.mkdtemp(prefix="digits-consumption-"))
    model.prepare_dataset(work / "dataset")
    configuration = model.Configuration(epochs=2)
    start = time.perf_counter()
    model.train(configuration, dataset_directory=work / "dataset", run_directory=work / "run", progress=False)
    elapsed = time.perf_counter() - start
    shutil.rmtree(work)
    return 2 * 1259 / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shards", type=int, default=64, help="how many shards (default 64)")
    parser.add_argument(
        "--rows-per-shard", type=int, default=61_440, help="examples per shard (default 16 MiB)"
    )
    parser.add_argument("--repetitions", type=int, default=3, help="alternated repetitions of each side")
    parser.add_argument("--batch-size", type=int, default=256, help="the loader's batch size")
    arguments = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="data-backend-benchmark-"))
    try:
        manifest = write_dataset(directory, arguments.shards, arguments.rows_per_shard)
        size = sum((directory / shard.path).stat().st_size for shard in manifest.split("train").shards)
        rows = manifest.split("train").rows
        raw_read(directory, manifest)  # warm the page cache, in case it cannot be dropped
        raw_timings, stream_timings, cold = [], [], True
        for repetition in range(arguments.repetitions):
            cold = drop_page_cache() and cold
            start = time.perf_counter()
            raw_read(directory, manifest)
            raw_timings.append(time.perf_counter() - start)
            cold = drop_page_cache() and cold
            start = time.perf_counter()
            assert stream(directory, arguments.batch_size, repetition) == rows
            stream_timings.append(time.perf_counter() - start)
        raw, streamed = statistics.median(raw_timings), statistics.median(stream_timings)
        consumption = training_examples_per_second()
        print(f"dataset: {arguments.shards} shards, {rows:,} examples, {size / 2**30:.2f} GiB")
        where = (
            "from the disk (page cache dropped before each)"
            if cold
            else "from the page cache (not droppable)"
        )
        print(f"median of {arguments.repetitions} alternated repetitions, read {where}")
        print(f"  raw read of the shard files: {raw:7.2f} s  {size / raw / 2**20:8.0f} MiB/s")
        print(
            f"  ShardStream, batch {arguments.batch_size}:    {streamed:7.2f} s  {size / streamed / 2**20:8.0f} MiB/s"
        )
        print(f"  loader / raw speed (goal >= 0.80): {raw / streamed:.2f}")
        print(
            f"  loader: {rows / streamed:,.0f} examples/s; digits training consumes {consumption:,.0f} examples/s"
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
