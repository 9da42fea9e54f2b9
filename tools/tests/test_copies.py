import textwrap

import pytest

from zoo.copies import (
    DIVERGED,
    DRIFTED,
    IN_SYNC,
    check_copies,
    fix_copies,
    format_report,
    located_diff,
)

ORIGIN = '''\
"""The alpha model."""

import functools

SCALE = 2
"""How much the network scales its input."""


class AlphaModelNetwork:
    """A tiny network of the alpha model."""

    def forward(self, value):
        """Scale ``value``.

        The scale is fixed.
        """
        # multiply by the scale
        return value * SCALE


@functools.cache
def train(configuration, epochs=3):
    """Train the alpha model."""
    total = 0
    for epoch in range(epochs):
        total += epoch
    return AlphaModelNetwork(), total


# Origin section helpers
def helper():
    return 1


HELPER_VALUE = 3
# End origin section
'''


def copy_module(body: str) -> str:
    """A module whose body starts at line 5."""
    return '"""The beta model."""\n\nimport functools\n\n' + textwrap.dedent(body)


@pytest.fixture
def alpha(repository):
    repository.add_package("alpha-model", {"model.py": ORIGIN})
    return repository


def only(report):
    assert len(report.results) == 1, report
    return report.results[0]


def test_a_copy_that_differs_only_in_formatting_and_renamed_names_is_in_sync(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Copied from alpha-model:alpha_model.model.train with alpha-model->beta-model
                @functools.cache
                def train(
                    configuration,
                    epochs=3,
                ):
                    '''Train the beta model.'''
                    total = 0
                    for epoch in range(epochs,):
                        total += epoch
                    return BetaModelNetwork(), total
                """
            )
        },
    )
    result = only(check_copies(alpha.root))
    assert result.status == IN_SYNC
    assert result.diff == ""
    assert (result.origin.start, result.origin.end) == (21, 27)  # from the decorator's line
    assert (result.copy.start, result.copy.end) == (6, 15)


def test_a_copy_with_a_changed_line_reports_a_diff_naming_both_files_and_lines(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                '''\
                # Copied from alpha-model:alpha_model.model.AlphaModelNetwork with AlphaModel->BetaModel
                class BetaModelNetwork:
                    """A tiny network of the beta model."""

                    def forward(self, value):
                        """Scale ``value``.

                        The scale is fixed.
                        """
                        # multiply by the scale
                        return value * SCALE * 2
                '''
            )
        },
    )
    report = check_copies(alpha.root)
    result = only(report)
    assert result.status == DRIFTED
    assert not report.passed
    assert result.diff.splitlines() == [
        "--- packages/alpha-model/src/alpha_model/model.py:9 (origin alpha-model:alpha_model.model."
        "AlphaModelNetwork with AlphaModel->BetaModel)",
        "+++ packages/beta-model/src/beta_model/model.py:6 (copy)",
        "@@ -15,4 +12,4 @@",
        "         The scale is fixed.",
        '         """',
        "         # multiply by the scale",
        "-        return value * SCALE",
        "+        return value * SCALE * 2",
    ]


def test_a_changed_comment_is_drift(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                '''\
                # Copied from alpha-model:alpha_model.model.AlphaModelNetwork.forward
                def forward(self, value):
                    """Scale ``value``.

                    The scale is fixed.
                    """
                    # multiply by two
                    return value * SCALE
                '''
            )
        },
    )
    result = only(check_copies(alpha.root))
    assert result.status == DRIFTED
    assert result.diff.splitlines()[2:] == [
        "@@ -14,5 +8,5 @@",
        " ",
        "     The scale is fixed.",
        '     """',
        "-    # multiply by the scale",
        "+    # multiply by two",
        "     return value * SCALE",
    ]


def test_docstring_indentation_and_quotes_are_formatting(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Copied from alpha-model:alpha_model.model.AlphaModelNetwork.forward
                def forward(self, value):
                    \'\'\'Scale ``value``.

                        The scale is fixed.
                    \'\'\'
                    # multiply  by the   scale
                    return (value *
                        SCALE)
                """
            )
        },
    )
    assert only(check_copies(alpha.root)).status == IN_SYNC


def test_an_assignment_copy_includes_its_docstring(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Copied from alpha-model:alpha_model.model.SCALE
                SCALE = 2
                '''How much the network scales its input, twice.'''
                """
            )
        },
    )
    result = only(check_copies(alpha.root))
    assert result.status == DRIFTED
    assert (result.copy.start, result.copy.end) == (6, 7)
    assert (result.origin.start, result.origin.end) == (5, 6)


def test_a_section_copy_is_compared_with_the_origin_section(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Copied from alpha-model:alpha_model.model section helpers
                def helper():
                    return 1


                HELPER_VALUE = 4
                # End copy
                """
            )
        },
    )
    result = only(check_copies(alpha.root))
    assert result.status == DRIFTED
    assert "-HELPER_VALUE = 3\n+HELPER_VALUE = 4" in result.diff
    assert (result.copy.start, result.copy.end) == (6, 10)


def test_a_copied_section_is_an_origin_for_further_copies(alpha):
    section = """\
        # Copied from alpha-model:alpha_model.model section helpers
        def helper():
            return 1


        HELPER_VALUE = 3
        # End copy
        """
    alpha.add_package("beta-model", {"model.py": copy_module(section)})
    alpha.add_package("gamma-model", {"model.py": copy_module(section.replace("alpha", "beta"))})
    report = check_copies(alpha.root)
    assert [result.status for result in report.results] == [IN_SYNC, IN_SYNC]
    assert report.results[1].origin.path.name == "model.py"
    assert report.results[1].origin.path.parts[-4] == "beta-model"


def test_a_diverged_copy_records_its_reason_and_is_not_compared(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Diverged from alpha-model:alpha_model.model.train: beta trains for longer
                def train(configuration, epochs=30):
                    return None
                """
            )
        },
    )
    report = check_copies(alpha.root)
    result = only(report)
    assert result.status == DIVERGED
    assert result.marker.reason == "beta trains for longer"
    assert report.passed
    table = format_report(report, alpha.root, table=True)
    assert "diverged  packages/beta-model/src/beta_model/model.py:6-7" in table
    assert "(diverged: beta trains for longer)" in table


def test_a_diverged_section_is_recognised(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Diverged from alpha-model:alpha_model.model section helpers with alpha->beta: no helper value
                def helper():
                    return 1
                # End copy
                """
            )
        },
    )
    result = only(check_copies(alpha.root))
    assert result.status == DIVERGED
    assert result.marker.section == "helpers"
    assert result.marker.describe_origin() == "alpha-model:alpha_model.model section helpers with alpha->beta"


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            "# Copied from nowhere-model:nowhere_model.model.train",
            "the origin package 'nowhere-model' does not exist",
        ),
        (
            "# Copied from alpha-model:alpha_model.missing.train",
            "alpha_model/__init__.py has no object 'missing.train'",
        ),
        (
            "# Copied from alpha-model:nothing.train",
            "the origin module of 'alpha-model:nothing.train' does not exist",
        ),
        ("# Copied from alpha-model:alpha_model.model.missing", "has no object 'missing'"),
        ("# Diverged from alpha-model:alpha_model.model.missing: on purpose", "has no object 'missing'"),
        ("# Copied from alpha-model:alpha_model.model", "alpha_model/__init__.py has no object 'model'"),
        ("# Copied from alpha_model.model.train", "malformed marker: write '# Copied from <package>"),
        ("# Diverged from alpha-model:alpha_model.model.train", "malformed marker: write '# Diverged from"),
        ("# Diverged from alpha-model:alpha_model.model.train:", "needs a reason after the colon"),
        (
            "# Copied from alpha-model:alpha_model.model.train with alpha",
            "malformed marker: 'alpha' is not a rename",
        ),
        (
            "# Copied from alpha-model:alpha_model.model.train with ->beta",
            "malformed marker: '->beta' is not",
        ),
    ],
)
def test_wrong_markers_are_errors_with_a_clear_message(alpha, marker, message):
    alpha.add_package("beta-model", {"model.py": copy_module(f"{marker}\ndef train():\n    pass\n")})
    report = check_copies(alpha.root)
    assert report.results == []
    assert not report.passed
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert problem.line == 5
    assert message in problem.message
    assert problem.describe(alpha.root).startswith("packages/beta-model/src/beta_model/model.py:5: ")


def test_a_missing_origin_section_is_an_error(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                "# Copied from alpha-model:alpha_model.model section other\nVALUE = 1\n# End copy\n"
            )
        },
    )
    report = check_copies(alpha.root)
    assert "has no section 'other'" in report.problems[0].message


def test_a_marker_away_from_an_object_is_an_error(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                "# Copied from alpha-model:alpha_model.model.train\n\ndef train():\n    pass\n"
            )
        },
    )
    report = check_copies(alpha.root)
    assert "is not directly above a function, class or assignment" in report.problems[0].message


def test_a_marker_naming_its_own_object_is_an_error(alpha):
    alpha.write(
        "packages/alpha-model/src/alpha_model/extra.py",
        "# Copied from alpha-model:alpha_model.extra.value\nvalue = 1\n",
    )
    report = check_copies(alpha.root)
    assert report.problems[0].message == "the marker names the copy itself as its origin"


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("# Origin section\nVALUE = 1\n# End origin section\n", 5, "malformed origin section marker"),
        ("# End copy\n", 5, "'# End copy' closes no open section"),
        ("# Origin section one\nVALUE = 1\n# End copy\n", 5, "the section 'one' is never closed"),
        (
            "# Origin section one\n# Origin section two\n# End origin section\n",
            5,
            "the section 'one' is not closed before the next one starts at line 6",
        ),
        (
            "# Origin section one\n# End origin section\n# Origin section one\n# End origin section\n",
            7,
            "a second section named 'one' in this file",
        ),
    ],
)
def test_wrong_sections_are_errors(alpha, body, line, message):
    alpha.add_package("beta-model", {"model.py": copy_module(body)})
    problems = check_copies(alpha.root).problems
    assert (problems[0].line, message in problems[0].message) == (line, True), problems


def test_assignments_to_attributes_and_items_are_not_objects(alpha):
    alpha.write(
        "packages/alpha-model/src/alpha_model/state.py",
        """\
        import types

        values = [0]
        values[0] = 1
        holder = types.SimpleNamespace()
        holder.value: int = 1
        count: int = 1
        """,
    )
    alpha.add_package(
        "beta-model",
        {"model.py": copy_module("# Copied from alpha-model:alpha_model.state.count\ncount: int = 1\n")},
    )
    assert only(check_copies(alpha.root)).status == IN_SYNC


def test_a_copy_may_come_before_its_origin_in_the_walk(alpha):
    alpha.add_package(
        "aardvark-model",
        {
            "model.py": copy_module(
                "# Copied from alpha-model:alpha_model.model section helpers\n# End copy\n"
            )
        },
    )
    report = check_copies(alpha.root)
    assert only(report).status == DRIFTED
    assert only(report).copy.lines == ()


def test_an_origin_that_does_not_parse_is_reported(alpha):
    alpha.write("packages/alpha-model/src/alpha_model/broken.py", "def broken(:\n")
    alpha.add_package(
        "beta-model",
        {"model.py": copy_module("# Copied from alpha-model:alpha_model.broken.broken\nX = 1\n")},
    )
    messages = [problem.message for problem in check_copies(alpha.root).problems]
    assert any(message.startswith("the file cannot be parsed") for message in messages)
    assert any("has no object 'broken'" in message for message in messages)


def test_a_file_with_markers_that_does_not_parse_is_reported(alpha):
    alpha.add_package("beta-model", {"model.py": copy_module('# End copy\nTEXT = """never closed\n')})
    problems = check_copies(alpha.root).problems
    assert [problem.message.split(" (")[0] for problem in problems] == ["the file cannot be parsed"]


def test_marker_text_inside_strings_is_not_a_marker(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                '''\
                HELP = """How to mark a copy:
                # Copied from nowhere-model:nowhere_model.model.thing
                """
                TEMPLATE = f"""{HELP}
                # End copy
                """
                '''
            )
        },
    )
    report = check_copies(alpha.root)
    assert (report.results, report.problems) == ([], [])


def test_an_origin_that_is_not_utf8_is_reported(alpha):
    (alpha.root / "packages/alpha-model/src/alpha_model/latin.py").write_bytes(b"NAME = '\xe9'\n")
    alpha.add_package(
        "beta-model", {"model.py": copy_module("# Copied from alpha-model:alpha_model.latin.NAME\nX = 1\n")}
    )
    problems = check_copies(alpha.root).problems
    assert "cannot be read as UTF-8 text" in problems[0].message


def test_origins_are_found_in_shared_contracts_package_modules_and_outside_src(alpha):
    alpha.write("packages/alpha-model/tests/helpers.py", "def make():\n    return 1\n")
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Copied from shared-contracts:shared_contracts.VERSION
                VERSION = 1


                # Copied from alpha-model:tests.helpers.make
                def make():
                    return 1
                """
            )
        },
    )
    report = check_copies(alpha.root)
    assert [result.status for result in report.results] == [IN_SYNC, IN_SYNC]
    assert report.results[0].origin.path.name == "__init__.py"


def test_the_origin_filter_keeps_the_copies_of_one_package_module_or_object(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Copied from alpha-model:alpha_model.model.SCALE
                SCALE = 2


                # Copied from shared-contracts:shared_contracts.VERSION
                VERSION = 1
                """
            )
        },
    )
    assert len(check_copies(alpha.root).results) == 2
    assert len(check_copies(alpha.root, "alpha-model").results) == 1
    assert len(check_copies(alpha.root, "alpha-model:alpha_model.model").results) == 1
    assert len(check_copies(alpha.root, "alpha-model:alpha_model.model.SCALE").results) == 1
    assert len(check_copies(alpha.root, "alpha-model:alpha_model.mod").results) == 0
    assert len(check_copies(alpha.root, "gamma-model").results) == 0


def test_lines_that_are_not_whole_statements_are_compared_line_by_line(alpha):
    alpha.write(
        "packages/alpha-model/src/alpha_model/branches.py",
        """\
        def choose(flag):
            if flag:
                # Origin section branch
                value = 1
            else:
                value = 2
                # End origin section
            return value
        """,
    )
    body = """\
        def choose(flag):
            if flag:
                # Copied from alpha-model:alpha_model.branches section branch
                value = 1
            else:
                value = {}
                # End copy
            return value
        """
    alpha.add_package("beta-model", {"model.py": copy_module(body.format(2))})
    alpha.add_package("gamma-model", {"model.py": copy_module(body.format(3))})
    report = check_copies(alpha.root)
    assert [result.status for result in report.results] == [IN_SYNC, DRIFTED]


def test_fix_rewrites_drifted_copies_and_formats_them(alpha):
    alpha.write(
        "packages/alpha-model/src/alpha_model/sums.py",
        """\
        def total(first_alpha_model_value, second_alpha_model_value):
            return first_alpha_model_value + second_alpha_model_value + first_alpha_model_value


        def tail():
            return 1""",
    )
    alpha.add_package(
        "beta-model-with-a-long-name",
        {
            "model.py": copy_module(
                """\
                class Holder:
                    # Copied from alpha-model:alpha_model.sums.total with alpha-model->beta-model-with-a-long-name
                    def total(first, second):
                        return first + second


                # Copied from alpha-model:alpha_model.sums.tail
                def tail():
                    return 2
                """
            )
        },
    )
    report, fixed = fix_copies(alpha.root)
    assert len(fixed) == 2
    assert report.passed
    assert report.count(IN_SYNC) == 2
    path = alpha.root / "packages/beta-model-with-a-long-name/src/beta_model_with_a_long_name/model.py"
    text = path.read_text()
    assert (
        "        return (\n            first_beta_model_with_a_long_name_value\n" in text
    )  # wrapped by ruff
    assert max(len(line) for line in text.splitlines() if not line.lstrip().startswith("#")) <= 88
    assert text.endswith("def tail():\n    return 1\n")


def test_fix_rewrites_nested_copies_and_chains_over_several_passes(alpha):
    network = """\
        # Copied from alpha-model:alpha_model.model.AlphaModelNetwork with alpha->{name}
        class {title}ModelNetwork:
            '''A tiny network of the {name} model.'''

            # Copied from alpha-model:alpha_model.model.AlphaModelNetwork.forward
            def forward(self, value):
                return value
        """
    alpha.add_package("beta-model", {"model.py": copy_module(network.format(name="beta", title="Beta"))})
    alpha.add_package(
        "gamma-model",
        {
            "model.py": copy_module(
                """\
                # Copied from beta-model:beta_model.model.BetaModelNetwork.forward
                def forward(self, value):
                    return None
                """
            )
        },
    )
    report, fixed = fix_copies(alpha.root)
    assert report.passed
    assert len(fixed) == 3
    gamma = alpha.read("packages/gamma-model/src/gamma_model/model.py")
    assert "        return value * SCALE\n" not in gamma
    assert "    return value * SCALE\n" in gamma


def test_fix_stops_when_two_copies_are_each_others_origin(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Copied from gamma-model:gamma_model.model.value
                def value():
                    return 1
                """
            )
        },
    )
    alpha.add_package(
        "gamma-model",
        {
            "model.py": copy_module(
                """\
                # Copied from beta-model:beta_model.model.value
                def value():
                    return 2
                """
            )
        },
    )
    report, fixed = fix_copies(alpha.root)
    assert report.count(DRIFTED) == 2
    assert len(fixed) == 4


def test_fix_with_an_origin_filter_leaves_other_copies(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Copied from alpha-model:alpha_model.model.SCALE
                SCALE = 3


                # Copied from shared-contracts:shared_contracts.VERSION
                VERSION = 2
                """
            )
        },
    )
    report, fixed = fix_copies(alpha.root, "alpha-model")
    assert [result.marker.origin for result in fixed] == ["alpha-model:alpha_model.model.SCALE"]
    assert report.passed
    assert "VERSION = 2" in alpha.read("packages/beta-model/src/beta_model/model.py")
    assert check_copies(alpha.root).count(DRIFTED) == 1


def test_fix_of_an_empty_section_writes_nothing(alpha):
    alpha.write(
        "packages/alpha-model/src/alpha_model/empty.py", "# Origin section nothing\n# End origin section\n"
    )
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                "# Copied from alpha-model:alpha_model.empty section nothing\n\nX = 1\n# End copy\n"
            )
        },
    )
    report, fixed = fix_copies(alpha.root)
    assert len(fixed) == 1
    assert report.passed
    assert alpha.read("packages/beta-model/src/beta_model/model.py").endswith(
        "# Copied from alpha-model:alpha_model.empty section nothing\n# End copy\n"
    )


def test_the_report_lists_every_copy_problem_and_drift(alpha):
    alpha.add_package(
        "beta-model",
        {
            "model.py": copy_module(
                """\
                # Copied from alpha-model:alpha_model.model.SCALE
                SCALE = 3


                # Copied from alpha-model:alpha_model.model.HELPER_VALUE
                HELPER_VALUE = 3


                # Copied from alpha-model:alpha_model.model.gone
                def gone():
                    pass
                """
            )
        },
    )
    text = format_report(check_copies(alpha.root), alpha.root, table=True)
    lines = text.splitlines()
    assert lines[0].split() == ["status", "copy", "origin", "origin", "lines"]
    assert lines[1].split() == [
        "drifted",
        "packages/beta-model/src/beta_model/model.py:6-6",
        "alpha-model:alpha_model.model.SCALE",
        "packages/alpha-model/src/alpha_model/model.py:5-6",
    ]
    assert lines[2].split()[:3] == ["in", "sync", "packages/beta-model/src/beta_model/model.py:10-10"]
    assert lines[2].endswith("packages/alpha-model/src/alpha_model/model.py:35-35")
    assert lines[3].startswith("packages/beta-model/src/beta_model/model.py:13: the origin")
    assert "drifted from alpha-model:alpha_model.model.SCALE; run `zoo check-copies --fix`" in text
    assert lines[-1] == "2 copies: 1 in sync, 1 drifted, 0 diverged on purpose; 1 marker problem"
    assert "status" not in format_report(check_copies(alpha.root), alpha.root, table=False)


def test_located_diff_numbers_insertions_and_deletions_like_unified_diffs():
    diff = located_diff([], 10, "origin", ["c\n"], 20, "copy")
    assert diff.splitlines() == ["--- origin", "+++ copy", "@@ -9,0 +20 @@", "+c"]
    diff = located_diff(["a\n", "b\n", "c\n"], 10, "origin", ["a\n", "x\n", "y\n", "c\n"], 20, "copy")
    assert diff.splitlines()[2:] == ["@@ -10,3 +20,4 @@", " a", "-b", "+x", "+y", " c"]
