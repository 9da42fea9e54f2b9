"""The README's examples run as written, against a real prepared dataset and a real run directory."""

from __future__ import annotations

import re
from pathlib import Path

from contract_builders import make_run_record, prepare_dataset

README = Path(__file__).parents[1] / "README.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_readme_examples_run(tmp_path, monkeypatch, capsys):
    manifest = prepare_dataset(tmp_path / "datasets" / "digits")
    record = make_run_record()
    record.save(tmp_path / "runs" / "first-run")
    monkeypatch.chdir(tmp_path)
    blocks = examples()
    assert len(blocks) == 3
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    printed = capsys.readouterr().out
    assert f"shapes 1 {manifest.fingerprint()}" in printed
    assert "'pixels' float32 [4]" in printed
    assert "5 {'pixels': (3, 4), 'label': (3,)}" in printed
    assert "digits-classifier-torch completed 7" in printed
    assert "test_accuracy: 0.91 vs 0.9 (better)" in printed
    assert "runs/does-not-exist/run.json: no run record here; is this a run directory?" in printed
