"""Benchmark of carbon-dioxide-forecaster-torch against plain PyTorch, side by side in one run.

1. Training overhead: the model's `train` (loader, progress bar, validation, checkpoint, run record, lineage,
   test evaluation against the seasonal-naive forecast) against a minimal plain-PyTorch loop over the same
   windows, network, optimiser, loss and batch size. Alternated, several repetitions, ratio of the medians.
   Goal: at most 1.10.
2. Prediction: ONNX Runtime against PyTorch eager on the exported network, batch 1 and 256, ratio of medians.

Run from the repository's root:

    uv run --project packages/carbon-dioxide-forecaster-torch python benchmarks/carbon-dioxide-forecaster-torch/run.py
"""

import argparse
import dataclasses
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy
import torch
from carbon_dioxide_forecaster_torch import model
from torch import nn


def plain_training(configuration, arrays, epochs):
    """The shortest loop that trains the same network the same way: no records, no checkpoints."""
    model.use_deterministic_settings(configuration)
    network = model.new_network(configuration)
    optimizer = model.new_optimizer(network, configuration)
    loss_function = nn.L1Loss()
    history, target = torch.from_numpy(arrays["history"]), torch.from_numpy(arrays["target"])
    for epoch in range(1, epochs + 1):
        torch.manual_seed(configuration.seed * 1_000_003 + epoch)
        network.train()
        order = torch.from_numpy(
            numpy.random.default_rng([configuration.seed, epoch]).permutation(len(target))
        )
        for start in range(0, len(target), configuration.batch_size):
            chosen = order[start : start + configuration.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss_function(network(history[chosen]), target[chosen]).backward()
            optimizer.step()


def median_seconds(function, repetitions):
    """The median wall-clock time of ``repetitions`` calls, and every timing."""
    timings = []
    for _ in range(repetitions):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), timings


def main():
    """Measure both comparisons and print them as tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repetitions", type=int, default=5, help="alternated repetitions of each side")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per training repetition")
    arguments = parser.parse_args()
    configuration = dataclasses.replace(model.Configuration(), epochs=arguments.epochs)
    work = Path(tempfile.mkdtemp(prefix="carbon-dioxide-benchmark-"))
    dataset = work / "dataset"
    model.prepare_dataset(dataset)
    train_arrays = model.BatchLoader(dataset, "train", batch_size=1).arrays

    # One warm-up of each side first: the first call pays PyTorch's one-time initialisation.
    model.train(configuration, dataset_directory=dataset, run_directory=work / "warm-up", progress=False)
    plain_training(configuration, train_arrays, arguments.epochs)
    zoo_timings, plain_timings = [], []
    for repetition in range(arguments.repetitions):  # alternate, so that drifts in machine load hit both
        start = time.perf_counter()
        model.train(
            configuration, dataset_directory=dataset, run_directory=work / f"run-{repetition}", progress=False
        )
        zoo_timings.append(time.perf_counter() - start)
        start = time.perf_counter()
        plain_training(configuration, train_arrays, arguments.epochs)
        plain_timings.append(time.perf_counter() - start)
    zoo, plain = statistics.median(zoo_timings), statistics.median(plain_timings)

    entry = model.export(work / "run-0", work / "repository", dataset_directory=dataset)
    native = model.load_native_predictor(work / "run-0")
    exported = model.load_onnx_predictor(entry.version_directory)
    test_history = model.BatchLoader(dataset, "test", batch_size=1).arrays["history"]
    prediction_rows = []
    for batch_size in (1, 256):
        batch = numpy.resize(test_history, (batch_size, model.WINDOW_WEEKS)).astype(numpy.float32)
        calls = 2000 if batch_size == 1 else 200
        for predictor in (native, exported):  # warm up
            predictor.predict({"history": batch})
        medians = {}
        for name, predictor in (("pytorch", native), ("onnxruntime", exported)):
            medians[name], _ = median_seconds(
                lambda predictor=predictor, batch=batch, calls=calls: [
                    predictor.predict({"history": batch}) for _ in range(calls)
                ],
                arguments.repetitions,
            )
            medians[name] /= calls
        prediction_rows.append((batch_size, medians["pytorch"], medians["onnxruntime"]))

    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} PyTorch thread(s)"
    )
    print(f"torch {torch.__version__}, Python {platform.python_version()}")
    print()
    print(f"training, {arguments.epochs} epochs, median of {arguments.repetitions} alternated repetitions")
    print(f"  model's train():      {zoo:8.3f} s   ({', '.join(f'{t:.2f}' for t in zoo_timings)})")
    print(f"  plain PyTorch loop:   {plain:8.3f} s   ({', '.join(f'{t:.2f}' for t in plain_timings)})")
    print(f"  ratio (goal <= 1.10): {zoo / plain:8.3f}")
    print()
    print("prediction, median time per call")
    print(f"  {'batch':>5}  {'PyTorch eager':>14}  {'ONNX Runtime':>13}  {'PyTorch / ONNX Runtime':>23}")
    for batch_size, eager, runtime in prediction_rows:
        print(
            f"  {batch_size:>5}  {eager * 1e6:>11.1f} µs  {runtime * 1e6:>10.1f} µs  {eager / runtime:>23.2f}"
        )


if __name__ == "__main__":
    main()
