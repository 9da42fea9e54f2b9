"""Fixtures of the documentation tests: the built site served over real HTTP, and headless Chromium.

The browser tests look at the site that ``mkdocs build --strict`` wrote into ``site/`` (``tox -e docs`` builds
it first). They serve it with Python's HTTP server on 127.0.0.1 and open it in Debian's Chromium, driven by
Playwright; nothing is downloaded. Where Chromium is missing they fail and say how to install it.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DOCUMENTATION_FOLDER = Path(__file__).resolve().parents[1]
TESTS_FOLDER = Path(__file__).resolve().parent
# The generator and its griffe extension, the sample repositories, and the repository tool's discovery.
for folder in (DOCUMENTATION_FOLDER, TESTS_FOLDER, DOCUMENTATION_FOLDER.parent / "tools"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

REPOSITORY_ROOT = Path(os.environ.get("ZOO_ROOT", DOCUMENTATION_FOLDER.parent)).resolve()
"""The repository whose site is tested: this one, or the one ``ZOO_ROOT`` names."""

SITE_DIRECTORY = REPOSITORY_ROOT / "site"
"""Where ``mkdocs build`` writes the site."""

ARTIFACT_DIRECTORY = Path(
    os.environ.get("ZOO_TEST_ARTIFACTS", DOCUMENTATION_FOLDER.parent / "test-artifacts")
)
"""Where the screenshot goes (ignored by git)."""

CHROMIUM = Path(os.environ.get("ZOO_CHROMIUM", "/usr/bin/chromium"))
"""Debian's Chromium, or the executable ``ZOO_CHROMIUM`` names."""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""Headless, and no calls home: this machine reaches no network but the package registries."""


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves the site's files without logging every request to the test output."""

    def log_message(self, format: str, *arguments: object) -> None:
        pass


@pytest.fixture(scope="session")
def site_directory() -> Path:
    """The built site; the tests fail with what to run when it has not been built."""
    if not (SITE_DIRECTORY / "index.html").is_file():
        pytest.fail(
            f"{SITE_DIRECTORY} holds no built site: build it first with `uv run mkdocs build --strict` "
            "(`tox -e docs` builds it, then runs these tests)"
        )
    return SITE_DIRECTORY


@pytest.fixture(scope="session")
def site_address(site_directory: Path) -> Iterator[str]:
    """The address of the site, served by a real HTTP server on a free port of 127.0.0.1."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site_directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium from Debian's package, driven by Playwright."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need Debian's Chromium. Install "
            "it with `apt-get update && apt-get install -y chromium chromium-driver`, or set ZOO_CHROMIUM "
            "to the path of a Chromium executable."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser page with a desktop-sized window, whose script errors are collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    new_page = context.new_page()
    new_page.script_errors = []
    new_page.on("pageerror", lambda error: new_page.script_errors.append(str(error)))
    try:
        yield new_page
    finally:
        context.close()
