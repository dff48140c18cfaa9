"""Problem rendering and the capped, exactly counted Report."""

from __future__ import annotations

from evalpipe.validation import Problem, Report, Severity


def error(n: int = 1) -> Problem:
    return Problem(Severity.ERROR, "d.jsonl", f"bad {n}", line=n, field="prompt")


def warning() -> Problem:
    return Problem(Severity.WARNING, "d.jsonl", "careful")


def test_render_names_file_line_field_and_severity() -> None:
    # Given a dataset problem, a suite problem and a file-level problem
    dataset = Problem(Severity.ERROR, "d.jsonl", "missing", line=3, field="modelResponses[0].response")
    suite = Problem(Severity.WARNING, "s.json", "ignored", field="evaluationConfig.automated")
    whole = Problem(Severity.ERROR, "d.jsonl", "the dataset has no records")
    # When they are rendered / Then each follows its format
    assert dataset.render() == "d.jsonl:3: modelResponses[0].response: error: missing"
    assert suite.render() == "s.json: evaluationConfig.automated: warning: ignored"
    assert whole.render() == "d.jsonl: error: the dataset has no records"


def test_as_dict_is_plain_json() -> None:
    # Given a problem / When it is turned into a dict / Then every key is present and plain
    assert error(2).as_dict() == {
        "severity": "error",
        "file": "d.jsonl",
        "message": "bad 2",
        "line": 2,
        "field": "prompt",
    }


def test_report_keeps_the_first_problems_but_counts_all() -> None:
    # Given a report that lists 2
    report = Report(max_listed=2)
    # When 3 errors and 1 warning are added
    for n in range(3):
        report.add(error(n))
    report.add(warning())
    # Then 2 are kept, all 4 counted, and the summary says so
    assert [p.message for p in report.problems] == ["bad 0", "bad 1"]
    assert (report.error_count, report.warning_count) == (3, 1)
    assert not report.ok
    assert not report.listed_all
    assert report.summary_line() == "3 errors, 1 warning (first 2 listed)"


def test_extend_keeps_exact_counts_of_a_truncated_report() -> None:
    # Given a report that listed 1 of 5 errors and 2 warnings
    inner = Report(max_listed=1)
    for n in range(5):
        inner.add(error(n))
    inner.add(warning())
    inner.add(warning())
    # When it is added to another report
    outer = Report()
    outer.add(warning())
    outer.extend(inner)
    # Then the counts are exact and only the kept problems are listed
    assert (outer.error_count, outer.warning_count) == (5, 3)
    assert len(outer.problems) == 2
    assert outer.errors() == [error(0)]
    assert outer.warnings() == [warning()]


def test_a_report_with_warnings_only_is_ok() -> None:
    # Given only warnings / When summarised / Then the run may go on
    report = Report()
    report.add(warning())
    assert report.ok
    assert report.listed_all
    assert report.summary_line() == "0 errors, 1 warning"
