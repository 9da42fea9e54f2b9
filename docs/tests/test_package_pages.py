"""The generator of the package pages, on real small repositories built in temporary folders."""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import pytest
from package_pages import (
    LOGGER,
    LinkRewriter,
    PackagePages,
    build_site,
    code_fence_for,
    epoch_metrics,
    expand_navigation,
    first_heading,
    format_number,
    help_sections,
    nice_ticks,
    outside_code_blocks,
    page_title,
    plan_package,
    read_scripts,
    section_named,
    shift_headings,
    table_cell,
    training_curve_svg,
    value_range,
    with_title,
    write_pages,
)
from sample_repository import (
    PIXEL_PNG,
    add_benchmark_readme,
    add_model,
    add_service,
    sample_run_record,
    write_pyproject,
)

from zoo.discovery import read_package


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """An empty repository: the folders discovery looks for and a guide to link to."""
    (tmp_path / "packages").mkdir()
    (tmp_path / "shared-contracts").mkdir()
    (tmp_path / "docs" / "guides").mkdir(parents=True)
    (tmp_path / "docs" / "guides" / "testing.md").write_text("# Testing\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# Model zoo\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The warnings the generator logs (which fail the strict build), in ``logged.messages``."""
    caplog.set_level(logging.WARNING, logger=LOGGER.name)
    return caplog


def plans_of(root: Path) -> dict[str, PackagePages]:
    return {
        directory.name: plan_package(read_package(directory)) for directory in (root / "packages").iterdir()
    }


# The whole site --------------------------------------------------------------------------------------------


def test_a_repository_without_packages_gets_an_index_that_says_so_and_an_empty_benchmarks_page(repository):
    site = build_site(repository)
    assert sorted(site.pages) == ["benchmarks.md", "packages/index.md"]
    assert "There is no package yet" in site.pages["packages/index.md"]
    assert "No benchmark has been recorded yet" in site.pages["benchmarks.md"]
    assert site.packages_section == ["packages/index.md"]


def test_a_model_gets_its_model_card_baseline_curve_command_line_and_api_pages(repository, logged):
    add_model(repository)
    site = build_site(repository)
    folder = "packages/sample-classifier-torch"
    assert sorted(site.pages) == sorted(
        [
            "benchmarks.md",
            "packages/index.md",
            f"{folder}/index.md",
            f"{folder}/baseline.md",
            f"{folder}/training-curve.svg",
            f"{folder}/command-line.md",
            f"{folder}/api.md",
            f"{folder}/assets/packages-sample-classifier-torch-docs-confusion.png",
        ]
    )
    assert site.pages[f"{folder}/assets/packages-sample-classifier-torch-docs-confusion.png"] == PIXEL_PNG
    assert site.packages_section == [
        "packages/index.md",
        {
            "Models": [
                {
                    "sample-classifier-torch": [
                        f"{folder}/index.md",
                        {"Baseline": f"{folder}/baseline.md"},
                        {"Command line": f"{folder}/command-line.md"},
                        {"API reference": f"{folder}/api.md"},
                    ]
                }
            ]
        },
    ]
    index = site.pages["packages/index.md"]
    assert (
        "| [sample-classifier-torch](sample-classifier-torch/index.md) | model | production | pytorch |"
        in index
    )
    assert logged.messages == []


def test_the_model_card_keeps_the_readme_title_adds_the_package_summary_and_rewrites_links(
    repository, logged
):
    add_model(repository)
    card = build_site(repository).pages["packages/sample-classifier-torch/index.md"]
    assert card.startswith(
        '---\ntitle: "sample-classifier-torch: model card"\n---\n\n# Sample classifier\n\n'
    )
    assert '!!! abstract "The package"' in card
    assert "    | `sample-classifier-torch` | model | production | pytorch | 1.2.0 |" in card
    assert "Command line: `uv run sample-classifier-torch`." in card
    assert (
        "More about it: [Baseline](baseline.md) · [Command line](command-line.md) · [API reference](api.md)."
        in card
    )
    # Links to the package's own files go to its pages; a fragment of a text file is dropped.
    assert "[baseline](baseline.md)" in card
    assert "[help](command-line.md)" in card
    # Files the site does not publish become their repository path; guides and addresses stay links.
    assert "the model file (`packages/sample-classifier-torch/src/sample_classifier_torch/model.py`)" in card
    assert "[tests](tests/)" not in card
    assert "tests (`packages/sample-classifier-torch/tests`)" in card
    assert "[guide](../../guides/testing.md)" in card
    assert "[design](https://example.org/design)" in card
    assert "[section below](#benchmarks)" in card
    assert "[the package](index.md)" in card
    # Pictures are copied beside the page, in Markdown and in raw HTML; code is left alone.
    assert "![The confusion matrix](assets/packages-sample-classifier-torch-docs-confusion.png)" in card
    assert '<img src="assets/packages-sample-classifier-torch-docs-confusion.png" alt="again"' in card
    assert "`[not a link](nowhere.md)`" in card
    assert "[inside a code block](nowhere.md)" in card
    assert logged.messages == []


def test_the_baseline_page_has_final_metrics_a_curve_every_epoch_and_the_whole_lineage(repository):
    add_model(repository)
    site = build_site(repository)
    page = site.pages["packages/sample-classifier-torch/baseline.md"]
    assert page.startswith(
        '---\ntitle: "sample-classifier-torch: baseline"\n---\n\n# sample-classifier-torch: baseline'
    )
    assert "(see the [command-line reference](command-line.md))" in page
    assert "| test_accuracy | 0.9733 | 0.005 |" in page
    assert "| test_loss | 0.091 | none stated |" in page
    assert "![Training curve of the sample-classifier-torch baseline" in page
    assert "(training-curve.svg)" in page
    assert "(3 epochs)" in page
    assert "| Epoch | train_loss | validation_accuracy |" in page
    assert "| 2 | 0.42 | 0.95 |" in page
    assert f"| Dataset fingerprint | `{'a' * 64}` |" in page
    assert "| Code revision | `0123456789abcdef` |" in page
    assert (
        f"| Uncommitted changes when it ran | yes (SHA-256 of the uncommitted changes: `{'b' * 64}`) |"
        in page
    )
    assert f"| SHA-256 of the package's uv.lock | `{'c' * 64}` |" in page
    assert "| Threads: intra_operation | 2 |" in page
    assert "| torch | 2.9.1 |" in page
    assert "| hidden_sizes | `[64, 32]` |" in page
    assert '??? note "Every checkpoint file with its SHA-256 (1)"' in page
    assert f"    | 3 | `checkpoints/epoch-3.safetensors` | `{'d' * 64}` |" in page
    assert "| test_accuracy | 0.9733 | 0.97 | 0.0033 | yes |" in page
    assert "- Trained on purpose on a tree with uncommitted changes." in page
    curve = site.pages["packages/sample-classifier-torch/training-curve.svg"]
    assert curve.startswith('<svg xmlns="http://www.w3.org/2000/svg" width="760"')
    assert curve.count('<g class="panel"') == 2
    assert "validation_accuracy, epoch 3: 0.975" in curve


def test_a_model_without_a_baseline_or_help_says_so_and_has_no_command_line_page(repository):
    add_model(repository, baseline=False, help_text=False)
    site = build_site(repository)
    folder = "packages/sample-classifier-torch"
    assert f"{folder}/command-line.md" not in site.pages
    assert f"{folder}/training-curve.svg" not in site.pages
    assert "has no committed baseline yet" in site.pages[f"{folder}/baseline.md"]
    assert (
        "[Train, reproduce and compare](../../guides/train-reproduce-compare.md)"
        in site.pages[f"{folder}/baseline.md"]
    )
    assert "[help](command-line-help.txt#usage)" in site.pages[f"{folder}/index.md"]


def test_a_baseline_without_command_line_final_metrics_or_epochs_still_has_its_lineage(repository):
    directory = add_model(repository, help_text=False)
    record = sample_run_record(directory.name)
    record.update(
        final_metrics={},
        epochs=[{"epoch": 1, "metrics": {}}],
        code={"revision": None, "dirty": False},
        environment={"python": "3.12.1", "platform": "Linux", "device": "cpu"},
        configuration={},
        checkpoints=[],
        baseline_comparison=[],
        notes=[],
    )
    (directory / "baseline" / "run.json").write_text(json.dumps(record), encoding="utf-8")
    pages = build_site(repository).pages
    page = pages["packages/sample-classifier-torch/baseline.md"]
    assert "command-line reference" not in page
    assert "The record holds no final metrics." in page
    assert "there is no curve to draw" in page
    assert "| Code revision | none |" in page
    assert "| Uncommitted changes when it ran | no |" in page
    for absent in ("### Libraries", "### Configuration", "### Checkpoints", "### Comparison", "### Notes"):
        assert absent not in page
    assert "packages/sample-classifier-torch/training-curve.svg" not in pages


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "is not valid JSON"),
        (b"\xff\xfe", "is not valid JSON"),
        (b"[1, 2]", "must hold a JSON object"),
    ],
)
def test_an_unreadable_baseline_is_a_warning_and_the_page_says_there_is_none(
    repository, logged, content, problem
):
    directory = add_model(repository)
    (directory / "baseline" / "run.json").write_bytes(content)
    page = build_site(repository).pages["packages/sample-classifier-torch/baseline.md"]
    assert "has no committed baseline yet" in page
    assert len(logged.messages) == 1
    assert logged.messages[0].startswith("packages/sample-classifier-torch/baseline/run.json")
    assert problem in logged.messages[0]


def test_the_metrics_of_many_epochs_are_folded(repository):
    directory = add_model(repository)
    record = sample_run_record(directory.name)
    record["epochs"] = [{"epoch": epoch, "metrics": {"loss": 1 / epoch}} for epoch in range(1, 12)]
    (directory / "baseline" / "run.json").write_text(json.dumps(record), encoding="utf-8")
    page = build_site(repository).pages["packages/sample-classifier-torch/baseline.md"]
    assert '??? note "Every epoch (11)"\n\n    | Epoch | loss |\n' in page
    assert "    | 11 | 0.0909091 |" in page


def test_epochs_keep_only_numbers_with_an_integer_epoch_in_order():
    record = {
        "epochs": [
            {"epoch": 2, "metrics": {"loss": 0.5, "flag": True, "name": "x", "count": 3}},
            "not an epoch",
            {"epoch": 1, "metrics": {"loss": 0.9}},
            {"epoch": True, "metrics": {"loss": 0.1}},
            {"epoch": 3, "metrics": "not metrics"},
        ]
    }
    assert epoch_metrics(record) == [(1, {"loss": 0.9}), (2, {"loss": 0.5, "count": 3.0})]
    assert epoch_metrics({"epochs": None}) == []


def test_a_service_gets_its_readme_and_api_reference_only(repository, logged):
    add_model(repository)
    add_service(repository)
    site = build_site(repository)
    folder = "packages/sample-server"
    assert {path for path in site.pages if path.startswith(folder)} == {
        f"{folder}/index.md",
        f"{folder}/api.md",
    }
    card = site.pages[f"{folder}/index.md"]
    assert "Command line: none." in card
    assert "More about it: [API reference](api.md)." in card
    assert "[the sample model](../sample-classifier-torch/index.md)" in card
    assert site.packages_section[2] == {
        "Services": [{"sample-server": [f"{folder}/index.md", {"API reference": f"{folder}/api.md"}]}]
    }
    api = site.pages[f"{folder}/api.md"]
    assert "::: sample_server\n    options:\n      show_root_heading: false\n" in api
    assert logged.messages == []


def test_a_package_without_readme_source_or_description_gets_a_minimal_card_and_a_warning(repository, logged):
    directory = repository / "packages" / "bare-service"
    directory.mkdir()
    (directory / "pyproject.toml").write_text(
        '[project]\nname = "bare-service"\n[tool.zoo]\nkind = "service"\n', encoding="utf-8"
    )
    site = build_site(repository)
    card = site.pages["packages/bare-service/index.md"]
    assert "# bare-service\n" in card
    assert "This package has no `README.md` yet." in card
    assert "No description in its pyproject.toml yet." in card
    assert "More about it" not in card
    assert "packages/bare-service/api.md" not in site.pages
    assert logged.messages == [
        "packages/bare-service has no README.md; write its model card there (see the guide to adding a model)"
    ]


def test_a_single_file_module_and_a_readme_without_title_are_handled(repository):
    directory = repository / "packages" / "single-file"
    (directory / "src").mkdir(parents=True)
    write_pyproject(directory, kind="service", scripts=False)
    (directory / "src" / "single_file.py").write_text('"""One file."""\n', encoding="utf-8")
    (directory / "README.md").write_text("Just text, no heading.\n", encoding="utf-8")
    site = build_site(repository)
    assert "packages/single-file/api.md" in site.pages
    card = site.pages["packages/single-file/index.md"]
    assert card.index("# single-file") < card.index("!!! abstract") < card.index("Just text, no heading.")


def test_a_setext_title_keeps_the_summary_below_it(repository):
    directory = add_service(repository)
    (directory / "README.md").write_text("Sample server\n=============\n\nServes.\n", encoding="utf-8")
    card = build_site(repository).pages["packages/sample-server/index.md"]
    assert "Sample server\n=============\n\n!!! abstract" in card


def test_a_readme_with_front_matter_keeps_its_own(repository):
    directory = add_service(repository)
    (directory / "README.md").write_text("---\ntitle: Mine\n---\n\n# Server\n", encoding="utf-8")
    card = build_site(repository).pages["packages/sample-server/index.md"]
    assert card.startswith("---\ntitle: Mine\n---\n")


# Links -----------------------------------------------------------------------------------------------------


def rewriter_for(
    repository: Path, page: str = "packages/sample-classifier-torch/index.md", **options
) -> LinkRewriter:
    add_model(repository)
    add_service(repository)
    return LinkRewriter(
        repository, plans_of(repository), "packages/sample-classifier-torch/README.md", page, **options
    )


def test_links_to_the_repository_map_onto_the_pages_that_stand_for_them(repository, logged):
    (repository / "shared-contracts" / "README.md").write_text("# Contracts\n", encoding="utf-8")
    (repository / "benchmarks").mkdir()
    rewriter = rewriter_for(repository)
    cases = {
        "../../README.md": "../../index.md",
        "../..": "../../index.md",
        "../../docs/guides/testing.md#rules": "../../guides/testing.md#rules",
        "../../shared-contracts": "../../architecture/shared-contracts.md",
        "../../shared-contracts/README.md": "../../architecture/shared-contracts.md",
        "../../benchmarks": "../../benchmarks.md",
        "../sample-server": "../sample-server/index.md",
        "../sample-server/#serving": "../sample-server/index.md#serving",
        "README.md#top": "index.md#top",
        "baseline": "baseline.md",
        "baseline/run.json": "baseline.md",
        "command-line-help.txt": "command-line.md",
        "https://example.org/page": "https://example.org/page",
        "mailto:someone@example.org": "mailto:someone@example.org",
        "#a-heading": "#a-heading",
    }
    for target, expected in cases.items():
        assert rewriter.site_target(target, picture=False) == expected, target
    assert rewriter.site_target("../..", picture=False) == "../../index.md"
    for unpublished in (
        "pyproject.toml",
        "src",
        "../sample-server/pyproject.toml",
        "../../docs/guides",
        "../../packages",
    ):
        assert rewriter.site_target(unpublished, picture=False) is None, unpublished
    assert logged.messages == []


def test_a_service_has_no_baseline_page_to_link_to(repository):
    rewriter = rewriter_for(repository)
    (repository / "packages" / "sample-server" / "baseline").mkdir()
    assert rewriter.site_target("../sample-server/baseline", picture=False) is None


def test_links_that_point_at_nothing_or_outside_are_kept_and_logged(repository, logged):
    rewriter = rewriter_for(repository)
    assert rewriter.site_target("missing.md", picture=False) == "missing.md"
    assert rewriter.site_target("../../../outside.md", picture=False) == "../../../outside.md"
    assert rewriter.site_target("pyproject.toml", picture=True) == "pyproject.toml"
    assert logged.messages == [
        "packages/sample-classifier-torch/README.md: the link 'missing.md' points at "
        "packages/sample-classifier-torch/missing.md, which does not exist; correct the link or add the file",
        "packages/sample-classifier-torch/README.md: the link '../../../outside.md' leaves the repository; "
        "link to a page of the site or a web address instead",
        "packages/sample-classifier-torch/README.md: the picture 'pyproject.toml' is not an image file "
        "(.png, .svg, .jpg, .jpeg, .gif, .webp); show a picture or link to the file",
    ]


def test_markdown_links_reference_definitions_and_html_are_rewritten_outside_code(repository, logged):
    rewriter = rewriter_for(
        repository, page="benchmarks.md", fragment_page="packages/sample-classifier-torch/index.md"
    )
    text = textwrap.dedent(
        """\
        See [the baseline](baseline/run.json "the record"), [`pyproject.toml`](pyproject.toml) and
        [`packages/sample-classifier-torch/pyproject.toml`](pyproject.toml).
        Also [the section](#benchmarks), `[code](missing.md)` and [a [nested] text](src).
        [definition]: command-line-help.txt
        [published elsewhere]: https://example.org
        <a href="baseline/run.json">record</a> <img src="docs/confusion.png"> <a href="https://example.org">x</a>
        <a href="pyproject.toml">unpublished</a>
        ~~~
        [fenced](missing.md)
        ~~~
        """
    )
    rewritten = rewriter.rewrite(text)
    assert rewritten.splitlines() == [
        'See [the baseline](packages/sample-classifier-torch/baseline.md "the record"), '
        "`pyproject.toml` (`packages/sample-classifier-torch/pyproject.toml`) and",
        "`packages/sample-classifier-torch/pyproject.toml`.",
        "Also [the section](packages/sample-classifier-torch/index.md#benchmarks), `[code](missing.md)` and "
        "a [nested] text (`packages/sample-classifier-torch/src`).",
        "[definition]: packages/sample-classifier-torch/command-line.md",
        "[published elsewhere]: https://example.org",
        '<a href="../packages/sample-classifier-torch/baseline.md">record</a> '
        '<img src="../assets/packages-sample-classifier-torch-docs-confusion.png"> <a href="https://example.org">x</a>',
        '<a href="pyproject.toml">unpublished</a>',
        "~~~",
        "[fenced](missing.md)",
        "~~~",
    ]
    assert list(rewriter.assets) == ["assets/packages-sample-classifier-torch-docs-confusion.png"]
    assert logged.messages == []


def test_a_reference_definition_to_an_unpublished_file_is_logged(repository, logged):
    rewriter = rewriter_for(repository)
    assert rewriter.rewrite("[source]: pyproject.toml\n") == "[source]: pyproject.toml\n"
    assert logged.messages == [
        "packages/sample-classifier-torch/README.md: the link definition '[source]: pyproject.toml' points at a "
        "file that the site does not publish; write the path as code instead"
    ]


# The command-line page -------------------------------------------------------------------------------------


def test_help_with_separator_lines_is_cut_into_one_section_per_command():
    text = (
        "usage: model [-h] command ...\n\nThe model.\n\n"
        + "=" * 40
        + "\nmodel train --help\n"
        + "=" * 40
        + "\n"
        "usage: model train [-h] [--epochs EPOCHS]\n\nTrain.\n"
    )
    assert help_sections(text, ("model",)) == [
        ("model", "usage: model [-h] command ...\n\nThe model."),
        ("model train", "usage: model train [-h] [--epochs EPOCHS]\n\nTrain."),
    ]


def test_help_with_prompt_lines_uses_them_as_headings_and_keeps_an_overview():
    text = "Every command of the model.\n$ model --help\nusage: model\n$ model train --help\nusage: model train\n$ \n"
    assert help_sections(text, ()) == [
        ("overview", "Every command of the model."),
        ("model", "usage: model"),
        ("model train", "usage: model train"),
        ("help", ""),
    ]


def test_help_without_usage_lines_is_one_section_named_after_the_program():
    assert help_sections("Some help.\n", ("model",)) == [("model", "Some help.\n")]
    assert help_sections("Some help.\n", ()) == [("help", "Some help.\n")]
    assert help_sections("usage:\nnothing\n", ("model",)) == [("model", "usage:\nnothing")]


def test_the_command_line_page_fences_help_that_contains_backticks(repository):
    directory = add_model(repository)
    write_pyproject(directory, kind="model", scripts=False)
    (directory / "command-line-help.txt").write_text(
        "usage: model [-h]\n\nUse ```this```.\n", encoding="utf-8"
    )
    page = build_site(repository).pages["packages/sample-classifier-torch/command-line.md"]
    assert "as `uv run ...`." in page
    assert "## `model`\n\n````text\nusage: model [-h]\n\nUse ```this```.\n````\n" in page
    assert code_fence_for("no backticks") == "```"


# Markdown helpers ------------------------------------------------------------------------------------------


def test_code_blocks_are_recognised_by_their_own_fence():
    lines = ["text", "````python", "```", "still code", "````", "~~~", "code", "~~~~", "after"]
    assert [prose for _, prose in outside_code_blocks(lines)] == [
        True, False, False, False, False, False, False, False, True
    ]  # fmt: skip


def test_table_cells_show_values_as_a_reader_wants_them():
    assert table_cell(True) == "yes"
    assert table_cell(False) == "no"
    assert table_cell(None) == "none"
    assert table_cell(0.123456789) == "0.123457"
    assert table_cell({"b": 1, "a": [2]}) == '`{"a": [2], "b": 1}`'
    assert table_cell("a | b\nc") == "a \\| b c"
    assert table_cell("") == " "
    assert format_number(3.0) == "3"
    assert format_number(float("inf")) == "inf"
    assert format_number(1e20) == "1e+20"


def test_titles_go_into_front_matter_unless_there_is_some_already():
    assert with_title('a "quoted" title', "# Text\n") == '---\ntitle: "a \\"quoted\\" title"\n---\n\n# Text\n'
    assert with_title("ignored", "---\ntitle: kept\n---\n") == "---\ntitle: kept\n---\n"
    assert page_title("model", "api.md") == "model: API reference"


def test_the_first_level_one_heading_is_found_outside_code():
    assert first_heading("```\n# not a heading\n```\n## Second\n# First #\n") == (4, "First")
    assert first_heading("Title\n===\n") == (1, "Title")
    assert first_heading("## Only second level\n") is None
    assert first_heading("") is None


def test_headings_shift_to_the_level_asked_for_within_bounds():
    text = "# One\n\n```\n# code\n```\n### Three\n###### Six\n"
    assert shift_headings(text, 3) == "### One\n\n```\n# code\n```\n##### Three\n###### Six\n"
    assert shift_headings("## Two\n", 1) == "# Two\n"
    assert shift_headings("no headings", 3) == "no headings"


def test_the_section_named_runs_to_the_next_heading_of_its_level():
    text = "# Title\n## Results\nA\n### Detail\nB\n## Benchmarks measured\nC\n### How\nD\n## License\nE\n"
    assert section_named(text, "benchmark") == ("Benchmarks measured", "C\n### How\nD\n")
    assert section_named("# Benchmarks\nOnly a title.\n", "benchmark") is None
    assert section_named("## Benchmarks\nTo the end.\n", "BENCHMARK") == ("Benchmarks", "To the end.\n")


def test_read_scripts_lists_the_programs_a_package_installs(tmp_path):
    directory = tmp_path / "a-model"
    directory.mkdir()
    write_pyproject(directory, kind="model")
    assert read_scripts(directory) == ("a-model",)
    write_pyproject(directory, kind="model", scripts=False)
    assert read_scripts(directory) == ()


# The figure ------------------------------------------------------------------------------------------------


def test_ticks_are_round_numbers_that_cover_the_range():
    assert nice_ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(1, 3) == [1.0, 1.5, 2.0, 2.5, 3.0]
    assert nice_ticks(0.83, 0.99) == [0.85, 0.9, 0.95]
    assert nice_ticks(1, 30) == [10, 20, 30]


def test_value_ranges_have_a_margin_and_are_never_empty():
    assert value_range([1.0, 2.0]) == pytest.approx((0.92, 2.08))
    assert value_range([2.0, 2.0]) == pytest.approx((1.9, 2.1))
    assert value_range([0.0]) == (-1.0, 1.0)


def test_the_curve_of_one_epoch_and_one_metric_is_one_panel_wide():
    figure = training_curve_svg([(5, {"loss": 0.5})], "one <epoch>")
    assert 'width="380"' in figure
    assert "one &lt;epoch&gt;" in figure
    assert ">5</text>" in figure
    assert figure.count("<circle") == 1


def test_metrics_without_finite_values_get_an_empty_panel():
    figure = training_curve_svg(
        [(1, {"loss": float("nan"), "accuracy": 0.5}), (2, {"loss": float("inf"), "accuracy": 0.7})], "title"
    )
    assert figure.count('<g class="panel"') == 2
    assert "no finite values" in figure
    assert figure.count("<circle") == 2
    assert ">1.5</text>" not in figure  # only whole epochs are labelled


# Navigation, benchmarks and writing ------------------------------------------------------------------------


def test_the_packages_entry_of_the_navigation_is_replaced_or_added():
    section = ["packages/index.md", {"Models": []}]
    navigation = [
        "index.md",
        {"Guides": ["guides/index.md"]},
        {"Packages": "packages/index.md"},
        {"Benchmarks": "benchmarks.md"},
    ]
    assert expand_navigation(navigation, section) == [
        "index.md",
        {"Guides": ["guides/index.md"]},
        {"Packages": section},
        {"Benchmarks": "benchmarks.md"},
    ]
    assert expand_navigation(["index.md"], section) == ["index.md", {"Packages": section}]


def test_the_benchmarks_page_gathers_package_sections_and_benchmark_readmes(repository, logged):
    add_model(repository)
    add_service(repository)
    add_model(repository, "second-model-torch")
    (repository / "packages" / "second-model-torch" / "README.md").unlink()
    add_benchmark_readme(repository)
    for name, text in {
        "untitled": "Plain text.\n",
        "atx": "# Server load\n\n## Figures\n\n![plot](plot.png)\n",
    }.items():
        (repository / "benchmarks" / name).mkdir()
        (repository / "benchmarks" / name / "README.md").write_text(text, encoding="utf-8")
    (repository / "benchmarks" / "atx" / "plot.png").write_bytes(PIXEL_PNG)
    logged.clear()
    site = build_site(repository)
    page = site.pages["benchmarks.md"]
    assert "## sample-classifier-torch\n\nFrom the section *Benchmarks* of the " in page
    assert "[sample-classifier-torch model card](packages/sample-classifier-torch/index.md)" in page
    assert "Training overhead against a plain loop: 1.04" in page
    assert "### How to reproduce" in page
    assert "[the package](packages/sample-classifier-torch/index.md)" in page
    assert "sample-server" not in page
    assert (
        "## Server load\n\nFrom `benchmarks/atx/README.md`.\n\n### Figures\n\n![plot](assets/benchmarks-atx-plot.png)"
        in page
    )
    assert "## Loader throughput\n\nFrom `benchmarks/data-loader/README.md`.\n\n### Figures\n" in page
    assert "## benchmarks/untitled\n\nFrom `benchmarks/untitled/README.md`.\n\nPlain text.\n" in page
    assert "No benchmark has been recorded yet" not in page
    assert site.pages["assets/benchmarks-atx-plot.png"] == PIXEL_PNG
    assert logged.messages == [
        "packages/second-model-torch has no README.md; write its model card there (see the guide to adding a model)"
    ]


def test_write_pages_writes_text_and_bytes_through_the_opener(tmp_path):
    def opener(path: str, mode: str, **options):
        destination = tmp_path / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        return destination.open(mode, **options)

    write_pages({"a/page.md": "# Page ü\n", "a/picture.png": PIXEL_PNG}, opener)
    assert (tmp_path / "a" / "page.md").read_text(encoding="utf-8") == "# Page ü\n"
    assert (tmp_path / "a" / "picture.png").read_bytes() == PIXEL_PNG
