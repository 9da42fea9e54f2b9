import json

from zoo.command_line import main
from zoo.runs import collect_runs, default_runs_directory, format_runs


def record(started, status="completed", **metrics):
    return json.dumps({"started_at": started, "status": status, "final_metrics": metrics})


def test_runs_are_listed_against_the_baseline(repository, capsys):
    directory = repository.add_package("alpha-model")
    repository.add_package("beta-server", kind="service")
    repository.add_package("gamma-model")
    repository.write("packages/alpha-model/baseline/run.json", record("2026", accuracy=0.9, loss=0.2))
    repository.write("runs/alpha-model/second/run.json", record("2027-02", accuracy=0.95, loss=0.1))
    repository.write("runs/alpha-model/first/run.json", record("2027-01", status="failed"))
    repository.write("runs/alpha-model/broken/run.json", "{ truncated")
    repository.write("runs/alpha-model/list/run.json", "[1, 2]")
    repository.write("runs/gamma-model/only/run.json", record("2027-03", error=1.5))
    summaries = collect_runs(repository.root, repository.root / "runs")
    assert [(s.model, s.run, s.status) for s in summaries] == [
        ("alpha-model", "broken", "unreadable"),
        ("alpha-model", "list", "unreadable"),
        ("alpha-model", "first", "failed"),
        ("alpha-model", "second", "completed"),
        ("gamma-model", "only", "completed"),
    ]
    text = format_runs(summaries, "text")
    assert "(baseline)" in text
    assert "0.9500 (+0.0500)" in text
    assert "0.1000 (-0.1000)" in text
    assert "gamma-model (no baseline committed yet)" in text
    assert json.loads(format_runs(summaries, "json"))[3]["baseline"] == {"accuracy": 0.9, "loss": 0.2}
    assert [s.run for s in collect_runs(repository.root, repository.root / "runs", "gamma-model")] == ["only"]
    assert directory.name == "alpha-model"
    arguments = ["--root", str(repository.root), "runs", "--runs-directory", str(repository.root / "runs")]
    assert main([*arguments, "--model", "alpha-model", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 4


def test_no_runs_says_how_to_make_one(repository, monkeypatch):
    repository.add_package("alpha-model")
    monkeypatch.setenv("ZOO_HOME", str(repository.root / "elsewhere"))
    assert default_runs_directory(repository.root) == repository.root / "elsewhere" / "runs"
    assert "no runs yet" in format_runs(collect_runs(repository.root), "text")
    monkeypatch.delenv("ZOO_HOME")
    assert default_runs_directory(repository.root) == repository.root / "runs"
