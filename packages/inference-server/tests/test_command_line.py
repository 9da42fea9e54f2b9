"""The ``inference-server`` command line, and the real server it starts: one process, or several workers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from inference_server.command_line import TOKEN_VARIABLE, build_parser, main, settings_from_arguments
from inference_server.metrics import PUBLISH_INTERVAL_SECONDS
from inference_server.settings import ServerSettings
from server_support import classifier, free_socket, write_model

OPTIONS = (
    "--model-repository",
    "--host",
    "--port",
    "--workers",
    "--maximum-request-body-bytes",
    "--request-timeout-seconds",
    "--keep-alive-timeout-seconds",
    "--maximum-concurrent-connections",
    "--bearer-token-file",
    "--access-log",
    "--no-access-log",
    "--strict-readiness",
    "--log-level",
)


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["serve", "--help"])
    assert raised.value.code == 0
    text = capsys.readouterr().out
    for option in OPTIONS:
        assert option in text
    assert "127.0.0.1" in text
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "inference-server 0.1.0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--port", "70000"], "expected a port number from 0 to 65535"),
        (["--workers", "0"], "expected a whole number of 1 or more"),
        (["--workers", "\u00b2"], "expected a whole number of 1 or more"),
        (["--request-timeout-seconds", "inf"], "expected a number of seconds above 0"),
        (["--request-timeout-seconds", "soon"], "expected a number of seconds above 0"),
        (["--log-level", "loud"], "invalid choice"),
    ],
)
def test_invalid_option_values_are_refused(tmp_path, capsys, arguments, message):
    with pytest.raises(SystemExit) as raised:
        main(["serve", "--model-repository", str(tmp_path), *arguments])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


def test_the_repository_and_the_token_file_are_checked_before_serving(tmp_path, capsys):
    cases = [
        (["--model-repository", str(tmp_path / "absent")], "is not a folder; export a model into it first"),
        (
            ["--model-repository", str(tmp_path), "--bearer-token-file", str(tmp_path / "absent")],
            "cannot read",
        ),
    ]
    (tmp_path / "empty-token").write_text("\n")
    cases.append(
        (
            ["--model-repository", str(tmp_path), "--bearer-token-file", str(tmp_path / "empty-token")],
            "is empty",
        )
    )
    for arguments, message in cases:
        with pytest.raises(SystemExit) as raised:
            main(["serve", *arguments])
        assert raised.value.code == 2
        assert message in capsys.readouterr().err


def test_settings_follow_the_options(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("from-the-file\n")
    parser = build_parser()
    monkeypatch.setenv(TOKEN_VARIABLE, "from-the-environment")
    arguments = parser.parse_args(["serve", "--model-repository", str(tmp_path)])
    settings = settings_from_arguments(arguments)
    assert settings == ServerSettings(tmp_path.resolve(), bearer_token="from-the-environment")
    arguments = parser.parse_args(
        [
            "serve",
            "--model-repository",
            str(tmp_path),
            "--bearer-token-file",
            str(tmp_path / "token"),
            "--host",
            "0.0.0.0",
            "--port",
            "9000",
            "--workers",
            "3",
            "--maximum-request-body-bytes",
            "1024",
            "--request-timeout-seconds",
            "2.5",
            "--keep-alive-timeout-seconds",
            "7",
            "--maximum-concurrent-connections",
            "100",
            "--no-access-log",
            "--strict-readiness",
            "--log-level",
            "debug",
        ]
    )
    assert settings_from_arguments(arguments) == ServerSettings(
        tmp_path.resolve(),
        host="0.0.0.0",
        port=9000,
        workers=3,
        maximum_request_body_bytes=1024,
        request_timeout_seconds=2.5,
        keep_alive_timeout_seconds=7,
        maximum_concurrent_connections=100,
        bearer_token="from-the-file",
        access_log=False,
        strict_readiness=True,
        log_level="debug",
    )


class ServerProcess:
    """``python -m inference_server serve`` in a subprocess, its log in a file."""

    def __init__(self, repository: Path, log: Path, *options: str) -> None:
        listening = free_socket()
        self.port = listening.getsockname()[1]
        listening.close()
        self.log = log
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "inference_server", "serve", "--model-repository", str(repository)),
                *("--port", str(self.port), "--no-access-log", *options),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )

    def get(self, path: str, method: str = "GET") -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method, data=b"" if method == "POST" else None
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def wait_until(self, condition, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():
                    return
            except (urllib.error.URLError, ConnectionError):
                pass
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)

    def worker_process_identifiers(self) -> list[int]:
        return [int(number) for number in re.findall(r"started worker process (\d+)", self.log.read_text())]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def test_one_process_serves_and_stops_on_sigterm(tmp_path):
    write_model(tmp_path, classifier())
    server = ServerProcess(tmp_path, tmp_path / "log.txt", "--workers", "1")
    try:
        server.wait_until(lambda: server.get("/v2/models/classifier/ready")[0] == 200)
        assert json.loads(server.get("/v2")[1])["name"] == "inference-server"
    finally:
        # uvicorn shuts down gracefully, then ends by the signal it caught, as a shell expects
        assert server.stop() == -signal.SIGTERM
    assert "Application shutdown complete" in server.log.read_text()


def test_several_workers_share_the_port_the_changes_and_the_metrics(tmp_path):
    repository = tmp_path / "repository"
    write_model(repository, classifier())
    server = ServerProcess(repository, tmp_path / "log.txt", "--workers", "2", "--log-level", "info")
    try:
        server.wait_until(lambda: len(server.worker_process_identifiers()) == 2)
        server.wait_until(lambda: all(server.get("/v2/models/classifier/ready")[0] == 200 for _ in range(6)))
        assert server.get("/v2/repository/models/classifier/unload", "POST")[0] == 200
        assert all(server.get("/v2/models/classifier/ready")[0] == 400 for _ in range(10))
        assert server.get("/v2/repository/models/classifier/load", "POST")[0] == 200
        assert all(server.get("/v2/models/classifier/ready")[0] == 200 for _ in range(10))

        def counted_by_every_scrape() -> bool:  # the workers publish their totals once a second
            scrapes = [server.get("/metrics")[1].decode() for _ in range(4)]
            counts = [re.search(r'route="model_ready",status="200"} ([\d.]+)', text) for text in scrapes]
            return all(match is not None and float(match.group(1)) >= 16 for match in counts)

        server.wait_until(counted_by_every_scrape, timeout=10)  # 16 answers, from both workers together

        assert server.get("/v2/repository/models/classifier/unload", "POST")[0] == 200
        first, _ = server.worker_process_identifiers()
        time.sleep(
            PUBLISH_INTERVAL_SECONDS * 1.5
        )  # a killed worker loses what it counted since it last published
        os.kill(first, signal.SIGKILL)
        server.wait_until(lambda: len(server.worker_process_identifiers()) == 3)
        assert "ended (exit code -9); starting another" in server.log.read_text()
        server.wait_until(lambda: all(server.get("/v2/health/ready")[0] == 200 for _ in range(6)))
        assert all(server.get("/v2/models/classifier/ready")[0] == 400 for _ in range(10))  # the new one too
        # the replaced worker's totals still count: every scrape reports at least what it did before
        server.wait_until(counted_by_every_scrape, timeout=10)
    finally:
        assert server.stop() == 0
    assert "stopped" in server.log.read_text()
