"""``mandate-rules spec``: the living documentation page, built as a user builds it.

Two throw-away projects (copies of the escort and asset packs and of their feature files, see
conftest) are run by the real command in a subprocess: one where every scenario passes, and one
with a failing scenario, a scenario that names no rule, a file Gherkin would misread and HTML
in names and tables. The page is read back with the standard library's HTML parser; when
Chromium is installed it is also rendered and screenshotted.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import attrs
import pytest

from mandate_rules import Bundle
from mandate_rules._models import Reference
from mandate_rules._spec.page import CHECK_MARKS, render_page
from mandate_rules._spec.settings import load_rules

from .conftest import FEATURES_DIR, OWN_FEATURES, copy_rules

EXE = shutil.which("mandate-rules") or str(Path(sys.executable).parent / "mandate-rules")
CHROMIUM = shutil.which("chromium")

SCRIPT_NAME = 'A wrong expectation <script>alert("x")</script> & co'
TABLE_VALUE = '<i>Unit</i> 4 & "sons"'
FEATURE_NAME = 'Review of the <b>page</b> & "quotes"'
REVIEW = f"""
    Feature: {FEATURE_NAME}

      Scenario Outline: {SCRIPT_NAME}
        Given an operation in SOM
        When an escort request is recorded:
          | field         | value            |
          | armed         | yes              |
          | provider.kind | mission_military |
          | provider.name | <name>           |
        Then ESC-004 is raised as warning
        And ESC-005 is not raised

        Examples:
          | name           |
          | {TABLE_VALUE} |

      Scenario: Nothing happens while time passes
        Given an operation in SOM
        When 2 hours pass
        Then no advisory is raised
    """
BROKEN = """
    Feature: Broken
      Scenaro: a misspelt keyword
        Given an operation in SOM
    """


# --------------------------------------------------------------------------- reading the page

@attrs.define(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element | str] = attrs.field(factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def words(self) -> str:
        return " ".join(self.text().split())

    def iter(self) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [e for e in self.iter()
                if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)]

    def one(self, tag: str | None = None, cls: str | None = None) -> Element:
        found = self.all(tag, cls)
        assert len(found) == 1, (tag, cls, len(found))
        return found[0]

    def by_id(self, ident: str) -> Element:
        found = [e for e in self.iter() if e.attrs.get("id") == ident]
        assert len(found) == 1, ident
        return found[0]


VOID = {"meta", "input", "br", "img", "hr", "link", "wbr", "col", "source"}


class _Builder(HTMLParser):
    """A tree of the page; fails on an end tag that does not close the open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {})
        self.open = self.root
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        element = Element(tag, {k: v or "" for k, v in attrs}, self.open)
        self.open.children.append(element)
        if tag not in VOID:
            self.open = element

    def handle_endtag(self, tag: str) -> None:
        assert tag == self.open.tag, f"</{tag}> closes <{self.open.tag}>"
        assert self.open.parent is not None
        self.open = self.open.parent

    def handle_data(self, data: str) -> None:
        self.open.children.append(data)


def parse(text: str) -> tuple[Element, list[str]]:
    builder = _Builder()
    builder.feed(text)
    builder.close()
    assert builder.open is builder.root, f"<{builder.open.tag}> is never closed"
    return builder.root, builder.tags


@attrs.frozen
class Built:
    path: Path
    done: subprocess.CompletedProcess[str]
    html: str
    page: Element
    tags: list[str]
    bundle: Bundle

    def rule(self, rule_id: str) -> Element:
        return self.page.by_id(f"rule-{rule_id}")


def _project(root: Path, *, extra: dict[str, str], rules: str, features: str) -> None:
    copy_rules(root / rules)
    (root / features).mkdir(parents=True)
    for name in OWN_FEATURES:
        shutil.copy(FEATURES_DIR / name, root / features / name)
    for name, text in extra.items():
        (root / features / name).write_text(textwrap.dedent(text).lstrip("\n"),
                                            encoding="utf-8")


def _build(root: Path, *args: str, out: str = "spec-report.html") -> Built:
    done = subprocess.run([EXE, "spec", *args], cwd=root, capture_output=True, text=True,
                          timeout=300, check=False)
    html = (root / out).read_text(encoding="utf-8")
    page, tags = parse(html)
    rules_dir = root / (args[args.index("--rules") + 1] if "--rules" in args else "rules")
    return Built(root / out, done, html, page, tags, load_rules(rules_dir))


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A project in odd folders, with a failing scenario and a file that is refused."""
    root = tmp_path_factory.mktemp("failing")
    _project(root, extra={"review.feature": REVIEW, "broken.feature": BROKEN},
             rules="policy-rules", features="specs")
    return _build(root, "--rules", "policy-rules", "--features", "specs",
                  "--out", "site/page.html", out="site/page.html")


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A project laid out as the repository is, where every scenario passes."""
    root = tmp_path_factory.mktemp("passing")
    _project(root, extra={}, rules="rules", features="features")
    return _build(root)


def tile_named(head: Element, label: str) -> Element:
    return next(t for t in head.all(cls="tile") if t.one(cls="tile-label").text() == label)


def scenarios_in(element: Element) -> list[Element]:
    return element.all("section", "scn")


def scenario_named(element: Element, name: str) -> list[Element]:
    return [s for s in scenarios_in(element) if s.one("h4", "scn-name").text() == name]


# --------------------------------------------------------------------------- the tests

def test_a_passing_run_exits_0_and_writes_the_page_in_the_current_folder(passing: Built
                                                                         ) -> None:
    assert passing.done.returncode == 0, passing.done.stderr
    assert passing.path == passing.path.parent / "spec-report.html"
    assert re.search(r"wrote spec-report\.html: (\d+) scenarios, \1 passed, 0 failed; "
                     r"20 of 20 rules covered", passing.done.stdout)
    assert passing.done.stderr == ""
    assert not passing.page.all(cls="scn-failed")
    assert not passing.page.all(cls="alert")
    tiles = {t.one(cls="tile-label").text(): t.one(cls="tile-num").text()
             for t in passing.page.all(cls="tile")}
    assert tiles["Failed"] == "0"
    assert tiles["Passed"] == tiles["Scenarios"]
    assert tiles["Rules specified"] == "20 of 20"


def test_a_failing_scenario_fails_the_command_but_the_page_is_written(failing: Built) -> None:
    assert failing.done.returncode == 1
    assert failing.path.is_file()
    assert "wrote site/page.html:" in failing.done.stdout
    assert f"FAILED specs/review.feature:3: {SCRIPT_NAME}" in failing.done.stderr
    assert "specs/broken.feature: line 2: 'Scenaro:' is not a Gherkin keyword" in (
        failing.done.stderr)


def test_the_page_carries_its_style_sheet_from_the_package_file(passing: Built) -> None:
    # page.css is package data (so hatch must ship it in the wheel); the page inlines it
    sheet = resources.files("mandate_rules._spec").joinpath("page.css").read_text("utf-8")
    assert ".scn{break-inside:avoid}" in sheet
    assert passing.page.one("style").text().strip() == sheet.strip()


def test_the_page_is_well_formed_and_self_contained(failing: Built, passing: Built) -> None:
    for built in (failing, passing):
        assert built.html.startswith("<!DOCTYPE html>\n")
        assert "script" not in built.tags
        assert "link" not in built.tags
        assert not [e for e in built.page.iter() if "src" in e.attrs]
        assert len(built.page.all("style")) == 1
        assert "url(" not in built.page.one("style").text()
        assert "@import" not in built.page.one("style").text()
        # every link on the page is to a place on it, or a citation's web address
        for anchor in built.page.all("a"):
            href = anchor.attrs["href"]
            if href.startswith("#"):
                built.page.by_id(href[1:])
            else:
                assert "url" in anchor.classes
                assert href.startswith(("http://", "https://"))


def test_every_rule_is_shown_once_in_catalogue_order(failing: Built) -> None:
    expected = [rule.id for rule in failing.bundle.rules]
    assert len(expected) == 20
    articles = failing.page.all("article", "rule")
    assert [a.one(cls="rule-id").text() for a in articles] == expected
    assert [a.attrs["id"] for a in articles] == [f"rule-{r}" for r in expected]
    index = failing.page.one("table", "index-table").one("tbody").all("tr")
    assert [row.all("td")[0].text() for row in index] == expected
    for article, rule in zip(articles, failing.bundle.rules, strict=True):
        assert article.one("h2").text() == rule.title
        assert article.all(cls="sev")[0].text() == rule.severity.value
        assert article.one(cls="advice").text() == rule.advice
        assert [li.text() for li in article.one("ul", "actions").all("li")] == list(
            rule.actions)


def test_uplift_escalations_triggers_and_parameters_are_in_words(failing: Built) -> None:
    bundle = failing.bundle
    assert bundle.uplift is not None
    uplifted = next(r for r in bundle.rules if r.uplift)
    assert (f"One level higher (at most critical) where {bundle.uplift.because}."
            in failing.rule(uplifted.id).words())
    not_uplifted = next(r for r in bundle.rules if not r.uplift)
    assert "One level higher" not in failing.rule(not_uplifted.id).words()
    escalating = next(r for r in bundle.rules if r.escalations)
    words = failing.rule(escalating.id).words()
    for escalation in escalating.escalations:
        assert (f"Raised to {escalation.to.value} when {escalation.because}." in words)
        for condition in escalation.when:
            assert condition.text in words
    assert "On an escort request (escort.request), when all of these hold" in (
        failing.rule("ESC-004").words())
    with_parameters = [r for r in bundle.rules if r.parameters]
    assert with_parameters
    for rule in with_parameters:
        table = failing.rule(rule.id).one("table", "params")
        rows = [[td.words() for td in tr.all("td")] for tr in table.one("tbody").all("tr")]
        assert rows == [[p.name, str(p.value), p.description]
                        for p in rule.parameters.values()]
    assert not failing.rule(next(r.id for r in bundle.rules if not r.parameters)).all(
        "table", "params")


def test_citations_show_their_check_marks_as_badges_and_link_their_addresses(
        failing: Built) -> None:
    seen: set[str] = set()
    for rule in failing.bundle.rules:
        items = failing.rule(rule.id).one("ol", "refs").all("li", "ref")
        assert len(items) == len(rule.references)
        for item, ref in zip(items, rule.references, strict=True):
            badge = item.one("span", "check")
            assert f"check-{ref.checked}" in badge.classes
            assert badge.words() == f"{ref.checked} {CHECK_MARKS[ref.checked][0]}"
            assert item.one(cls="source").text() == ref.source
            links = item.all("a")
            if ref.url:
                assert [a.attrs["href"] for a in links] == [ref.url]
                assert links[0].text() == ref.url
            else:
                assert not links
            if ref.quote:
                assert ref.quote in item.one("blockquote").text()
            seen.add(ref.checked)
    assert seen == {"V", "S", "H", "U"}
    key = failing.page.one("section", "key").words()
    for mark, (word, meaning) in CHECK_MARKS.items():
        assert f"{mark} {word} {meaning}" in key


def test_the_header_gives_version_date_totals_coverage_and_problems(failing: Built) -> None:
    head = failing.page.one("header", "page-head")
    words = head.words()
    version = failing.bundle.version
    assert (f"Rule bundle {failing.bundle.name}, version {version.version} "
            f"(content {version.hash[:12]})") in words
    ran = re.search(r"The scenarios ran on (\d{1,2} \w+ \d{4}, \d\d:\d\d) UTC, in "
                    r"\d+\.\d seconds\.", words)
    assert ran is not None
    when = dt.datetime.strptime(ran.group(1), "%d %B %Y, %H:%M").replace(tzinfo=dt.UTC)
    assert abs(dt.datetime.now(dt.UTC) - when) < dt.timedelta(hours=1)
    tiles = {t.one(cls="tile-label").text(): t.one(cls="tile-num").text()
             for t in head.all(cls="tile")}
    total = int(tiles["Scenarios"])
    assert (int(tiles["Passed"]), int(tiles["Failed"])) == (total - 1, 1)
    # coverage was not checked (a file was refused), so the count is no green claim
    assert tiles["Rules specified (coverage not checked)"] == "20 of 20"
    assert "Rules specified" not in tiles
    assert "tile-good" not in tile_named(head, "Rules specified (coverage not checked)").classes
    assert "tile-bad" in next(t for t in head.all(cls="tile")
                              if t.one(cls="tile-label").text() == "Failed").classes
    assert ("The run did not check rule coverage, because a feature file was refused "
            "(specs/broken.feature), so its scenarios did not run.") in words
    assert tiles["Feature files refused"] == "1"
    problems = head.one("pre", "problems").text()
    assert problems.startswith("specs/broken.feature was refused, so none of its scenarios "
                               "ran:\n")
    assert "line 2: 'Scenaro:' is not a Gherkin keyword" in problems
    assert "=====" not in problems
    assert "____" not in problems
    failed = head.all(cls="alert-bad")[0]
    assert failed.words().startswith("1 scenario failed.")
    link = failed.one("a")
    assert link.text() == SCRIPT_NAME
    target = failing.page.by_id(link.attrs["href"][1:])
    assert "scn-failed" in target.classes


def test_scenarios_are_shown_under_the_rules_they_name_raised_or_near_miss(
        failing: Built) -> None:
    raised = scenario_named(failing.rule("ESC-004"), SCRIPT_NAME)
    near = scenario_named(failing.rule("ESC-005"), SCRIPT_NAME)
    assert len(raised) == len(near) == 1
    assert [m.text() for m in raised[0].all(cls="mark")] == ["Raises it"]
    assert [m.text() for m in near[0].all(cls="mark")] == ["Near miss: not raised"]
    assert not scenario_named(failing.rule("ESC-001"), SCRIPT_NAME)
    # the groups: raised first, then near misses, each with its count
    groups = failing.rule("ESC-005").all("div", "group")
    assert [g.all("h4")[0].text().split(" (")[0] for g in groups] == [
        "Where it is raised", "Near misses: where it is not raised"]
    assert near[0] in scenarios_in(groups[1])
    for group, mark in zip(groups, ["Raises it", "Near miss: not raised"], strict=True):
        count = re.search(r"\((\d+)\)$", group.all("h4")[0].text())
        assert count is not None
        assert int(count.group(1)) == len(scenarios_in(group))
        assert all(mark in {m.text() for m in s.all(cls="mark")} for s in scenarios_in(group))
    # every rule has scenarios of both kinds from the copied feature files
    for article in failing.page.all("article", "rule"):
        assert all(scenarios_in(g) for g in article.all("div", "group")), article.attrs["id"]


def test_a_failing_scenario_is_marked_failed_with_its_message(failing: Built) -> None:
    scenario = scenario_named(failing.rule("ESC-004"), SCRIPT_NAME)[0]
    assert "scn-failed" in scenario.classes
    assert scenario.one(cls="outcome").text() == "✗ Failed"
    assert scenario.one("p", "scn-where").words().startswith(
        f"specs/review.feature:3 · Feature: {FEATURE_NAME} · Example: name = {TABLE_VALUE}")
    steps = scenario.one("ol", "steps").all("li", "step")
    assert [s.one(cls="kw").text() for s in steps] == ["Given", "When", "Then", "And"]
    assert [next(c for c in s.classes if c in {"step-passed", "step-failed", "step-skipped"})
            for s in steps] == ["step-passed", "step-passed", "step-failed", "step-skipped"]
    assert steps[2].one(cls="step-note").text() == "✗ failed here"
    assert steps[3].one(cls="step-note").text() == "not run"
    assert steps[2].one("a", "rule-ref").attrs["href"] == "#rule-ESC-004"
    message = scenario.one("div", "failure").one("pre").text()
    assert message.startswith(f'specs/review.feature:10: in scenario "{SCRIPT_NAME}"\n')
    assert "Expected ESC-004 to be raised as warning, but it was raised as critical." in message
    some_passing = [s for s in scenarios_in(failing.rule("ESC-004")) if "scn-passed" in s.classes]
    assert some_passing
    assert not some_passing[0].all(cls="failure")


def test_data_tables_are_rendered_as_tables(failing: Built) -> None:
    scenario = scenario_named(failing.rule("ESC-004"), SCRIPT_NAME)[0]
    table = scenario.one("table", "data")
    assert [th.text() for th in table.one("thead").all("th")] == ["field", "value"]
    assert [[td.text() for td in tr.all("td")] for tr in table.one("tbody").all("tr")] == [
        ["armed", "yes"], ["provider.kind", "mission_military"],
        ["provider.name", TABLE_VALUE]]


def test_everything_from_the_files_is_escaped(failing: Built) -> None:
    assert "<script" not in failing.html
    assert "<i>Unit" not in failing.html
    assert "<b>page" not in failing.html
    assert ("A wrong expectation &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"
            in failing.html)
    assert not set(failing.tags) & {"script", "i", "b"}
    # the parsed text is the text as written, wherever it appears
    names = [h.text() for h in failing.page.all("h4", "scn-name")]
    assert names.count(SCRIPT_NAME) == 2  # under ESC-004 and ESC-005


def test_scenarios_that_name_no_rule_come_last(failing: Built) -> None:
    main = failing.page.one("main")
    sections = [c for c in main.children if isinstance(c, Element)]
    assert [s.tag for s in sections[:-1]] == ["article"] * 20
    last = sections[-1]
    assert last.attrs["id"] == "no-rule"
    assert last.one("h2").text() == "Scenarios that name no rule"
    names = [s.one("h4", "scn-name").text() for s in scenarios_in(last)]
    assert "Nothing happens while time passes" in names
    assert SCRIPT_NAME not in names
    for rule in failing.page.all("article", "rule"):
        assert not scenario_named(rule, "Nothing happens while time passes")


def _page_for(bundle: Bundle, reference: Reference) -> str:
    rule = attrs.evolve(bundle.rules[0], references=(reference,))
    document = {"created": "2026-11-27T10:00:00Z", "summary": {"scenarios": 0},
                "coverage": {}, "scenarios": []}
    return render_page(document, attrs.evolve(bundle, rules=(rule,)))


def test_the_rules_tile_is_green_only_when_coverage_was_checked_and_held(
        spec_bundle: Bundle) -> None:
    rule_ids = [rule.id for rule in spec_bundle.rules]
    every_rule = {"nodeid": "features/a.feature::test_all", "file": "features/a.feature",
                  "scenario": "All", "outcome": "passed", "steps": [],
                  "rules_raised": rule_ids, "rules_not_raised": rule_ids}
    for coverage, label, state in [
            ({"enforced": True, "reason": None}, "Rules specified", "tile-good"),
            ({"enforced": False, "reason": "only some scenarios were selected"},
             "Rules specified (coverage not checked)", "tile-neutral"),
            ({"enforced": False, "reason": None, "error": "the rules did not load"},
             "Rules specified (coverage not checked)", "tile-bad")]:
        document = {"created": "2026-11-27T10:00:00Z", "coverage": coverage,
                    "summary": {"scenarios": 1, "passed": 1}, "scenarios": [every_rule]}
        head = parse(render_page(document, spec_bundle))[0].one("header", "page-head")
        tile = tile_named(head, label)
        assert tile.one(cls="tile-num").text() == f"{len(rule_ids)} of {len(rule_ids)}"
        assert state in tile.classes, coverage


def test_only_web_addresses_become_links(spec_bundle: Bundle) -> None:
    page = _page_for(spec_bundle, Reference(source="S <em>1</em>", checked="U",
                                            url="javascript:alert(1)", quote='"q" & <q>'))
    tree, tags = parse(page)
    ref = tree.one("li", "ref")
    assert not ref.all("a")
    assert ref.one(cls="url").text() == "javascript:alert(1)"
    assert ref.one(cls="source").text() == "S <em>1</em>"
    assert "em" not in tags
    assert "27 November 2026, 10:00 UTC" in tree.one("header", "page-head").words()
    web = _page_for(spec_bundle, Reference(source="S", checked="V",
                                           url="https://example.org/a?b=1&c=<2>"))
    link = parse(web)[0].one("li", "ref").one("a")
    assert link.attrs["href"] == "https://example.org/a?b=1&c=<2>"
    assert 'href="https://example.org/a?b=1&amp;c=&lt;2&gt;"' in web


def test_a_missing_features_folder_is_said_plainly(tmp_path: Path) -> None:
    done = subprocess.run([EXE, "spec", "--features", "nowhere"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "there is no folder of feature files at nowhere" in done.stderr
    assert not (tmp_path / "spec-report.html").exists()


# --------------------------------------------------------------------------- in a browser

def _png(path: Path) -> tuple[int, int, bytes]:
    """(width, height, the decompressed image data) of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def _screenshot(page: Path, target: Path) -> None:
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", f"--user-data-dir={target.parent / 'profile'}",
         "--window-size=1280,2400", f"--screenshot={target}", page.as_uri()],
        capture_output=True, timeout=180, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_the_page_renders_in_a_headless_browser(failing: Built, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    _screenshot(failing.path, shot)
    assert shot.is_file(), "chromium wrote no screenshot"
    width, height, pixels = _png(shot)
    assert (width, height) == (1280, 2400)
    # A blank page (or one colour) is a few kB whose filtered bytes are almost all one value
    # (measured: 8 kB, 4 distinct values, 99.97 % the same); the page is hundreds of kB.
    assert shot.stat().st_size > 50_000
    assert len(set(pixels)) > 64
    sample = Counter(pixels[::97])
    assert sample.most_common(1)[0][1] / sum(sample.values()) < 0.99
