"""The GPU check: train every model on the GPU with its default configuration, next to its CPU baseline.

For every model package (discovered under packages/, none listed here) it runs, in the package's own locked
environment, `<model> train --device cuda` with the default configuration, then prints, side by side with the
package's committed baseline (trained on the CPU): the final metrics and their differences, and the training
time per epoch on the GPU against the CPU. A model whose environment has no CUDA build of its framework is
reported as skipped, with the reason. Meant for one NVIDIA H100 in under 5 minutes; it changes nothing in
the repository (runs go to a temporary folder).

Run from the repository's root, on the GPU machine:

    python3 benchmarks/gpu-check/run.py            # or: bash benchmarks/gpu-check/run.sh
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from zoo.discovery import discover_packages  # noqa: E402


def seconds_per_epoch(record: dict) -> float:
    """Training time per epoch from a run record's start and end."""
    started = datetime.datetime.fromisoformat(record["started_at"])
    finished = datetime.datetime.fromisoformat(record["finished_at"])
    return (finished - started).total_seconds() / max(len(record["epochs"]), 1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--device", default="cuda", help="the device to train on (cuda; cpu to try the script)"
    )
    parser.add_argument("--timeout", type=int, default=240, help="seconds allowed for each model")
    arguments = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    failures = 0
    for package in discover_packages(ROOT, include_retired=False):
        if package.kind != "model":
            continue
        print(f"== {package.name} ({package.framework})", flush=True)
        command = ["uv", "run", "--project", str(package.directory), package.name, "train"]
        command += ["--device", arguments.device, "--run-name", "gpu-check", "--no-progress"]
        environment = {**os.environ, "ZOO_HOME": str(home)}
        try:
            completed = subprocess.run(
                command,
                env=environment,
                capture_output=True,
                text=True,
                timeout=arguments.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            print(f"   failed: no result within {arguments.timeout} s")
            failures += 1
            continue
        if completed.returncode != 0:
            reason = (completed.stderr.strip().splitlines() or ["no message"])[-1]
            skipped = "no CUDA" in completed.stderr or "sees no CUDA device" in completed.stderr
            print(f"   {'skipped' if skipped else 'failed'}: {reason}")
            failures += 0 if skipped else 1
            continue
        record = json.loads((home / "runs" / package.name / "gpu-check" / "run.json").read_text())
        baseline_path = package.directory / "baseline" / "run.json"
        baseline = json.loads(baseline_path.read_text()) if baseline_path.exists() else None
        print(f"   device: {record['environment']['device']}")
        for name, value in sorted(record["final_metrics"].items()):
            reference = baseline["final_metrics"].get(name) if baseline else None
            beside = (
                ""
                if reference is None
                else f"  (CPU baseline {reference:.4f}, difference {value - reference:+.4f})"
            )
            print(f"   {name:<28}{value:10.4f}{beside}")
        gpu = seconds_per_epoch(record)
        cpu = seconds_per_epoch(baseline) if baseline else None
        against = "" if cpu is None else f"  (CPU baseline {cpu:.3f} s, GPU / CPU {gpu / cpu:.2f})"
        print(f"   seconds per epoch           {gpu:10.3f}{against}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
