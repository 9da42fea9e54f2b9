"""Benchmark of digits-classifier-jax against plain JAX, side by side in one run.

1. Training overhead: the model's `train` (loader, progress bar, validation, checkpoints, run record, lineage)
   against a minimal plain-JAX loop over the same data, network, optimiser (Optax's AdamW with the same cosine
   decay of the step size) and batch size. Alternated, several repetitions, ratio of the medians. Goal: at
   most 1.10.
2. Prediction: ONNX Runtime against JAX's own compiled prediction of the exported network, batch 1 and 256:
   the model's native predictor (input validation, padding to a compiled batch size, the compiled function,
   the copy to numpy) and the compiled function alone. Alternated, ratio of medians.

Run from the repository's root:

    uv run --project packages/digits-classifier-jax python benchmarks/digits-classifier-jax/run.py
"""

import argparse
import dataclasses
import functools
import importlib.metadata
import platform
import statistics
import tempfile
import time
from pathlib import Path

import jax
import numpy
import optax
from digits_classifier_jax import model


@functools.partial(jax.jit, static_argnames=("structure", "optimizer"))
def plain_step(structure, optimizer, parameters, optimizer_state, pixels, labels, epoch_key, step):
    """The shortest compiled step: cross-entropy, gradients, AdamW; nothing padded, nothing recorded."""

    def loss_of(trained):
        scores = model.assembled_network(structure, trained)(pixels, jax.random.fold_in(epoch_key, step))
        return optax.softmax_cross_entropy_with_integer_labels(scores, labels).mean()

    loss, gradients = jax.value_and_grad(loss_of)(parameters)
    updates, optimizer_state = optimizer.update(gradients, optimizer_state, parameters)
    return optax.apply_updates(parameters, updates), optimizer_state, loss


@functools.cache
def plain_optimizer(learning_rate, weight_decay, total_steps):
    """AdamW with the step size Optax's cosine schedule gives, the same object for the same settings."""
    schedule = optax.cosine_decay_schedule(learning_rate, decay_steps=total_steps)
    return optax.adamw(learning_rate=schedule, weight_decay=weight_decay)


def plain_training(configuration, arrays, epochs):
    """The shortest loop that trains the same network the same way: no records, no checkpoints."""
    model.use_deterministic_settings()
    structure = model.network_structure(configuration)
    parameters = model.network_parameters(model.new_network(configuration))
    rows = len(arrays["label"])
    steps_per_epoch = -(-rows // configuration.batch_size)
    optimizer = plain_optimizer(
        configuration.learning_rate, configuration.weight_decay, epochs * steps_per_epoch
    )
    optimizer_state = optimizer.init(parameters)
    _, dropout_key = model.random_keys(configuration.seed)
    for epoch in range(1, epochs + 1):
        epoch_key = jax.random.fold_in(dropout_key, epoch)
        order = numpy.random.default_rng([configuration.seed, epoch]).permutation(rows)
        for step, start in enumerate(range(0, rows, configuration.batch_size)):
            chosen = order[start : start + configuration.batch_size]
            parameters, optimizer_state, loss = plain_step(
                structure,
                optimizer,
                parameters,
                optimizer_state,
                arrays["pixels"][chosen],
                arrays["label"][chosen],
                epoch_key,
                step,
            )
    loss.block_until_ready()


def alternated_medians(functions, repetitions):
    """Each function's median time over ``repetitions`` rounds that call every function once, in turn."""
    timings = {name: [] for name in functions}
    for _ in range(repetitions):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}, timings


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repetitions", type=int, default=5, help="alternated repetitions of each side")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per training repetition")
    arguments = parser.parse_args()
    configuration = dataclasses.replace(model.Configuration(), epochs=arguments.epochs)
    work = Path(tempfile.mkdtemp(prefix="digits-jax-benchmark-"))
    dataset = work / "dataset"
    model.prepare_dataset(dataset)
    train_arrays = model.BatchLoader(dataset, "train", batch_size=1).arrays

    # One warm-up of each side first: the first call pays JAX's compilations.
    model.train(configuration, dataset_directory=dataset, run_directory=work / "warm-up", progress=False)
    plain_training(configuration, train_arrays, arguments.epochs)
    runs = iter(range(arguments.repetitions))
    training, training_timings = alternated_medians(
        {
            "model": lambda: model.train(
                configuration,
                dataset_directory=dataset,
                run_directory=work / f"run-{next(runs)}",
                progress=False,
            ),
            "plain": lambda: plain_training(configuration, train_arrays, arguments.epochs),
        },
        arguments.repetitions,
    )

    entry = model.export(work / "run-0", work / "repository", dataset_directory=dataset)
    native = model.load_native_predictor(work / "run-0")
    exported = model.load_onnx_predictor(entry.version_directory)
    test_pixels = model.BatchLoader(dataset, "test", batch_size=1).arrays["pixels"]
    prediction_rows = []
    for batch_size in (1, 256):
        batch = numpy.resize(test_pixels, (batch_size, 64)).astype(numpy.float32)
        calls = 2000 if batch_size == 1 else 200

        def compiled_alone(batch=batch):
            return numpy.asarray(model.compiled_scores(native.structure, native.parameters, batch))

        sides = {
            "jax predictor": lambda batch=batch: native.predict({"pixels": batch}),
            "jax compiled function": compiled_alone,
            "onnxruntime": lambda batch=batch: exported.predict({"pixels": batch}),
        }
        for side in sides.values():  # warm up: the compilation for this batch size, ONNX Runtime's first run
            side()
        medians, _ = alternated_medians(
            {
                name: lambda side=side, calls=calls: [side() for _ in range(calls)]
                for name, side in sides.items()
            },
            arguments.repetitions,
        )
        prediction_rows.append((batch_size, {name: value / calls for name, value in medians.items()}))

    print(
        f"machine: {platform.machine()}, {model.processor_cores()} processor cores, XLA flags: {' '.join(model.XLA_FLAGS)}"
    )
    print(
        f"jax {jax.__version__}, flax {importlib.metadata.version('flax')}, optax {optax.__version__}, "
        f"onnxruntime {importlib.metadata.version('onnxruntime')}, Python {platform.python_version()}"
    )
    print()
    print(f"training, {arguments.epochs} epochs, median of {arguments.repetitions} alternated repetitions")
    model_timings = ", ".join(f"{t:.2f}" for t in training_timings["model"])
    plain_timings = ", ".join(f"{t:.2f}" for t in training_timings["plain"])
    print(f"  model's train():      {training['model']:8.3f} s   ({model_timings})")
    print(f"  plain JAX loop:       {training['plain']:8.3f} s   ({plain_timings})")
    print(f"  ratio (goal <= 1.10): {training['model'] / training['plain']:8.3f}")
    print()
    print("prediction, median time per call")
    print(
        f"  {'batch':>5}  {'JAX predictor':>14}  {'JAX compiled':>13}  {'ONNX Runtime':>13}"
        f"  {'JAX predictor / ONNX Runtime':>29}"
    )
    for batch_size, medians in prediction_rows:
        predictor, compiled, runtime = (
            medians["jax predictor"],
            medians["jax compiled function"],
            medians["onnxruntime"],
        )
        print(
            f"  {batch_size:>5}  {predictor * 1e6:>11.1f} µs  {compiled * 1e6:>10.1f} µs  "
            f"{runtime * 1e6:>10.1f} µs  {predictor / runtime:>29.2f}"
        )


if __name__ == "__main__":
    main()
