"""Benchmark of the data backend: streaming a large dataset against reading the same bytes straight from disk.

It writes a synthetic dataset of at least 1 GB in the dataset contract (64 shards of 16 MiB by default,
float32 features), then, alternated over several repetitions, measures:

- raw read: every shard file read from disk into memory, one after the other (what any loader must pay);
- raw parallel read: the same, on as many threads as the loader fetches with (the fastest plain read);
- the loader: digits-classifier-torch's ShardStream over the same shards (prefetching threads, SHA-256
  checked, decoded without copying, shuffled within each shard, cut into batches).

Before each side of each repetition the operating system's page cache is dropped (as root, where the
system allows it), so every side reads from the disk itself; where it cannot be dropped all read from the
cache, which measures the loader's own cost against a memory copy, and the output says so. Next to each
wall time it prints the processor time the side used (all threads, user and system): on a machine with few
cores the loader's hashing and shuffling, not the disk, set its speed.

It prints medians and the loader's speed as a fraction of each raw read's. The goal is at least 0.80 of the
plain read (the same bytes read straight from disk, as ``cat`` would); the parallel read is a stricter
reference, shown beside it. Last, it prints the examples per second the loader delivers against the examples
per second the digits model's training step consumes (it must never starve it).

Run from the repository's root:

    uv run --project packages/digits-classifier-torch python benchmarks/data-backend/run.py
"""

import argparse
import concurrent.futures
import inspect
import os
import resource
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


def processor_seconds() -> float:
    """The processor time this process has used so far, user and system, on all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raw_read(directory: Path, manifest: DatasetManifest) -> int:
    total = 0
    for shard in manifest.split("train").shards:
        total += len((directory / shard.path).read_bytes())
    return total


def raw_parallel_read(directory: Path, manifest: DatasetManifest, threads: int) -> int:
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        paths = [directory / shard.path for shard in manifest.split("train").shards]
        return sum(len(data) for data in pool.map(Path.read_bytes, paths))


def stream(directory: Path, batch_size: int, epoch: int, threads: int, prefetch: int) -> int:
    rows = 0
    loader = model.ShardStream(
        directory, "train", batch_size=batch_size, seed=0, threads=threads, prefetch=prefetch
    )
    for batch in loader.batches(epoch):
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
    defaults = inspect.signature(model.ShardStream).parameters
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults["threads"].default,
        help="the loader's fetching threads (default: ShardStream's, %(default)s)",
    )
    parser.add_argument(
        "--prefetch",
        type=int,
        default=defaults["prefetch"].default,
        help="shards the loader fetches ahead (default: ShardStream's, %(default)s)",
    )
    arguments = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="data-backend-benchmark-"))
    try:
        manifest = write_dataset(directory, arguments.shards, arguments.rows_per_shard)
        size = sum((directory / shard.path).stat().st_size for shard in manifest.split("train").shards)
        rows = manifest.split("train").rows
        raw_read(directory, manifest)  # warm the page cache, in case it cannot be dropped
        sides = {  # each side, and what it must return: every byte read, or every example delivered
            "raw read, one file after the other": (lambda: raw_read(directory, manifest), size),
            f"raw read on {arguments.threads} threads": (
                lambda: raw_parallel_read(directory, manifest, arguments.threads),
                size,
            ),
            f"ShardStream, batch {arguments.batch_size}, {arguments.threads} threads, prefetch "
            f"{arguments.prefetch}": (
                lambda: stream(directory, arguments.batch_size, 0, arguments.threads, arguments.prefetch),
                rows,
            ),
        }
        timings: dict[str, list[float]] = {name: [] for name in sides}
        processor: dict[str, list[float]] = {name: [] for name in sides}
        cold = True
        for _ in range(arguments.repetitions):
            for name, (side, expected) in sides.items():
                cold = drop_page_cache() and cold
                start, processor_start = time.perf_counter(), processor_seconds()
                result = side()
                timings[name].append(time.perf_counter() - start)
                processor[name].append(processor_seconds() - processor_start)
                if result != expected:
                    raise SystemExit(f"{name} returned {result:,}, expected {expected:,}")
        medians = {name: statistics.median(values) for name, values in timings.items()}
        consumption = training_examples_per_second()
        print(f"dataset: {arguments.shards} shards, {rows:,} examples, {size / 2**30:.2f} GiB")
        where = (
            "from the disk (page cache dropped before each)"
            if cold
            else "from the page cache (not droppable)"
        )
        print(f"median of {arguments.repetitions} alternated repetitions, read {where}")
        width = max(len(name) for name in medians)
        print(f"  {'':{width}}  {'wall':>6}    {'speed':>11}  processor time (user + system, all threads)")
        for name, seconds in medians.items():
            print(
                f"  {name:{width}}  {seconds:6.2f} s  {size / seconds / 2**20:6.0f} MiB/s  "
                f"{statistics.median(processor[name]):5.2f} s"
            )
        *raw_names, loader_name = medians
        for name in raw_names:
            print(f"  loader / {name}: {medians[name] / medians[loader_name]:.2f}")
        print(
            "  goal: at least 0.80 of the plain read (one file after the other); the parallel read is stricter"
        )
        streamed = medians[loader_name]
        print(
            f"  loader: {rows / streamed:,.0f} examples/s; digits training consumes {consumption:,.0f} examples/s"
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
