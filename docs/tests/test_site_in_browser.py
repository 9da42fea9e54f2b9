"""The built documentation site, opened in headless Chromium as a reader would open it.

Checks that the home page and every page of every package render with their title, navigation and figures,
that every internal link and fragment of the whole site resolves, that the search finds every package by its
name, and takes a screenshot of a model's page into ``test-artifacts/``. The package list comes from the same
discovery as the site, so a new package is tested without editing this file.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import deque
from urllib.parse import urldefrag

import pytest
from conftest import ARTIFACT_DIRECTORY, REPOSITORY_ROOT
from package_pages import page_title, plan_package
from playwright.sync_api import expect

from zoo.discovery import discover_packages

PLANS = [plan_package(package) for package in discover_packages(REPOSITORY_ROOT)]
"""Every package of the repository and the pages it must have."""

PAGES_OF_PACKAGES = [(plan, page_name) for plan in PLANS for page_name in plan.page_names()]
"""Every generated page of every package."""

TOP_LEVEL_SECTIONS = ["Home", "Architecture", "Guides", "Packages", "Benchmarks"]
"""The tabs of the site's navigation."""


def page_address(site_address: str, documentation_path: str) -> str:
    """The address of the page built from ``documentation_path`` (directory addresses, as MkDocs makes)."""
    if documentation_path == "index.md":
        return site_address
    stem = documentation_path.removesuffix(".md").removesuffix("index")
    return site_address + stem.rstrip("/") + "/"


def assert_renders(page, address: str) -> None:
    """Open ``address`` and check what every page has: a title, a heading, the navigation, no script error."""
    response = page.goto(address)
    assert response is not None
    assert response.status == 200, f"{address} answered {response.status}"
    page.wait_for_load_state("load")
    assert page.title().endswith("Model zoo"), f"{address} has the title {page.title()!r}"
    expect(page.locator("article h1").first).to_be_visible()
    tabs = page.locator(".md-tabs__link").all_inner_texts()
    assert [tab.strip() for tab in tabs] == TOP_LEVEL_SECTIONS, f"{address}: navigation tabs {tabs}"
    expect(page.locator("nav.md-nav--primary")).to_be_attached()
    assert page.script_errors == [], f"{address}: script errors {page.script_errors}"


def assert_figures_loaded(page, address: str) -> int:
    """Check that every picture in the page's text has loaded; returns how many there are."""
    pictures = page.locator("article img")
    for index in range(pictures.count()):
        picture = pictures.nth(index)
        picture.scroll_into_view_if_needed()
        expect(picture).to_be_visible()
        loaded = picture.evaluate("element => element.complete && element.naturalWidth > 0")
        assert loaded, f"{address}: the picture {picture.get_attribute('src')} did not load"
    return pictures.count()


def test_home_page_renders_with_title_navigation_and_quick_start(page, site_address):
    assert_renders(page, site_address)
    assert page.title() == "Model zoo"
    expect(page.locator("article h1").first).to_contain_text("Model zoo")
    expect(page.locator("article")).to_contain_text("Quick start")
    assert_figures_loaded(page, site_address)


@pytest.mark.parametrize(
    "documentation_path",
    [
        "architecture/index.md",
        "architecture/shared-contracts.md",
        "guides/index.md",
        "guides/add-a-model.md",
        "guides/train-reproduce-compare.md",
        "guides/export-and-serve.md",
        "guides/life-cycle.md",
        "guides/testing.md",
        "guides/contributing.md",
        "benchmarks.md",
        "packages/index.md",
    ],
)
def test_every_hand_written_page_renders(page, site_address, documentation_path):
    address = page_address(site_address, documentation_path)
    assert_renders(page, address)
    assert_figures_loaded(page, address)


def test_architecture_page_shows_its_diagram(page, site_address):
    address = page_address(site_address, "architecture/index.md")
    assert_renders(page, address)
    assert assert_figures_loaded(page, address) >= 1


def test_shared_contracts_reference_documents_the_contracts(page, site_address):
    assert_renders(page, page_address(site_address, "architecture/shared-contracts.md"))
    for name in (
        "RunRecord",
        "ArtifactManifest",
        "DatasetManifest",
        "TensorSpecification",
        "ModelConfiguration",
    ):
        expect(page.locator(f"[id='shared_contracts.{name}']")).to_be_attached()


def test_packages_page_lists_every_package(page, site_address):
    assert_renders(page, page_address(site_address, "packages/index.md"))
    table_text = page.locator("article").inner_text()
    if not PLANS:
        assert "There is no package yet" in table_text
    for plan in PLANS:
        link = page.locator(f"article a[href='{plan.package.name}/']")
        expect(link).to_have_text(plan.package.name)


@pytest.mark.parametrize(
    ("plan", "page_name"),
    PAGES_OF_PACKAGES,
    ids=[f"{plan.package.name}-{page_name.removesuffix('.md')}" for plan, page_name in PAGES_OF_PACKAGES],
)
def test_every_package_page_renders_with_title_navigation_and_figures(page, site_address, plan, page_name):
    name = plan.package.name
    address = page_address(site_address, f"{plan.folder}/{page_name}")
    assert_renders(page, address)
    assert page.title() == f"{page_title(name, page_name)} - Model zoo"
    # The package's section of the navigation lists every page of the package.
    navigation = set(
        page.eval_on_selector_all("nav.md-nav--primary a[href]", "links => links.map(link => link.href)")
    )
    for other in plan.page_names():
        assert page_address(site_address, f"{plan.folder}/{other}") in navigation, (
            f"{address}: no link to {other}"
        )
    figures = assert_figures_loaded(page, address)
    if page_name == "baseline.md" and (plan.package.directory / "baseline" / "run.json").is_file():
        curve = page.locator("article figure img[src$='training-curve.svg']")
        expect(curve).to_be_visible()
        assert figures >= 1
        expect(page.locator("article")).to_contain_text("Lineage")
    if page_name == "index.md":
        expect(page.locator("article .admonition")).to_contain_text(name)
    if page_name == "api.md":
        expect(page.locator("article .doc").first).to_be_attached()


@pytest.mark.parametrize("plan", PLANS, ids=[plan.package.name for plan in PLANS])
def test_search_finds_every_package_by_name(page, site_address, plan):
    name = plan.package.name
    assert_renders(page, site_address)
    search = page.locator("input.md-search__input")
    search.click()
    search.press_sequentially(name, delay=20)  # typed key by key, as the search listens to the keyboard
    results = page.locator(".md-search-result__item a")
    expect(results.first).to_be_visible()
    addresses = [link.get_attribute("href") for link in results.all()]
    assert any(f"packages/{name}/" in (href or "") for href in addresses), (
        f"searching for {name!r} found {addresses}"
    )


def test_every_internal_link_resolves(page, site_address):
    """Walk every page reachable from the home page; every link, picture and fragment must resolve."""
    pages: dict[str, set[str]] = {}
    links: dict[str, set[str]] = {}
    queue = deque([site_address])
    while queue:
        address = queue.popleft()
        if address in pages:
            continue
        response = page.goto(address)
        assert response is not None, f"{address} does not open"
        assert response.status == 200, f"{address} answered {response.status}"
        page.wait_for_load_state("load")
        pages[address] = set(
            page.eval_on_selector_all("[id]", "elements => elements.map(element => element.id)")
        )
        found = page.eval_on_selector_all(
            "a[href], img[src], link[href], script[src]",
            "elements => elements.map(element => element.href || element.src)",
        )
        for link in found:
            if not link.startswith(site_address):
                continue
            links.setdefault(link, set()).add(address)
            target, _ = urldefrag(link)
            if target.endswith("/") and target not in pages:
                queue.append(target)
    assert len(pages) >= len(PAGES_OF_PACKAGES) + 12, f"only {len(pages)} pages are reachable"
    broken = []
    for link, sources in sorted(links.items()):
        target, fragment = urldefrag(link)
        if target in pages:
            if fragment and fragment not in pages[target]:
                broken.append(f"{link} (no element with that id), linked from {sorted(sources)[0]}")
            continue
        try:
            with urllib.request.urlopen(target) as response:  # the site's own server on 127.0.0.1
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        if status != 200:
            broken.append(f"{link} ({status}), linked from {sorted(sources)[0]}")
    assert broken == []


def test_screenshot_of_a_model_page(page, site_address):
    models = [plan for plan in PLANS if plan.package.kind == "model"]
    if not models:
        pytest.skip("the repository has no model package yet, so there is no model page to photograph")
    with_baseline = [plan for plan in models if (plan.package.directory / "baseline" / "run.json").is_file()]
    plan = (with_baseline or models)[0]
    address = page_address(site_address, f"{plan.folder}/baseline.md")
    assert_renders(page, address)
    assert_figures_loaded(page, address)
    page.evaluate("window.scrollTo(0, 0)")  # the header is drawn where the window was scrolled to
    ARTIFACT_DIRECTORY.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACT_DIRECTORY / f"{plan.package.name}-baseline.png"
    page.screenshot(path=str(screenshot), full_page=True)
    content = screenshot.read_bytes()
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(content) > 10_000
