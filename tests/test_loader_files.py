"""What the loader refuses to read: empty files, directories, links that leave the rules
directory, oversized files and YAML that expands without bound. Each is a problem at a
file and line with a code, never an exception, and never echoes what lies outside."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mandate_rules import check_bundle, load_bundle
from mandate_rules._adapters import MappingError, load_mapping
from mandate_rules._yamlsrc import MAX_ALIAS_VALUES, MAX_FILE_BYTES

from .helpers import pack, rule_yaml

GOOD = pack(rule_yaml("TST-001", "escort.request", ["armed is true"]))


def found(root: Path) -> set[tuple[str, int, str]]:
    return {(p.file.split("/")[-1], p.line, p.code) for p in check_bundle(root)}


@pytest.mark.parametrize("text", ["", "# a pack will go here\n", "---\n...\n"])
def test_an_empty_pack_file_is_refused(write_pack: Callable[..., Path], text: str) -> None:
    root = write_pack({"good.yaml": GOOD, "empty.yaml": text})
    problems = check_bundle(root)
    assert [(p.file.split("/")[-1], p.line, p.code) for p in problems] == [
        ("empty.yaml", 1, "empty-file")]
    assert "expected a rule pack" in problems[0].message


def test_an_empty_bundle_file_and_context_profile_are_refused(
        write_pack: Callable[..., Path]) -> None:
    root = write_pack({"good.yaml": GOOD}, bundle="", contexts={"SOM.yaml": "\n"})
    assert {("bundle.yaml", 1, "empty-file"), ("SOM.yaml", 1, "empty-file")} <= found(root)


def test_a_directory_named_like_a_pack_is_a_problem_naming_it(
        write_pack: Callable[..., Path]) -> None:
    root = write_pack({"good.yaml": GOOD})
    (root / "old.yaml").mkdir()
    (root / "contexts").mkdir()
    (root / "contexts" / "SOM.yaml").mkdir()
    problems = check_bundle(root)
    assert {(p.file.split("/")[-1], p.code) for p in problems} == {
        ("old.yaml", "not-a-file"), ("SOM.yaml", "not-a-file")}
    message = next(p.message for p in problems if p.file.endswith("old.yaml"))
    assert "old.yaml is a directory" in message


SECRET = "api_token: s3cr3t-value\nroot_password: hunter2\n"


def test_links_out_of_the_rules_directory_are_refused_unread(
        write_pack: Callable[..., Path], tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.yaml").write_text(SECRET)
    (outside / "SOM.yaml").write_text(SECRET)
    root = write_pack({"good.yaml": GOOD})
    (root / "stolen.yaml").symlink_to(outside / "secret.yaml")
    (root / "contexts").mkdir()
    (root / "contexts" / "SOM.yaml").symlink_to(outside / "SOM.yaml")
    problems = check_bundle(root)
    assert {(p.file.split("/")[-1], p.code) for p in problems} == {
        ("stolen.yaml", "link-outside"), ("SOM.yaml", "link-outside")}
    shown = "\n".join(str(p) for p in problems)
    for word in ("api_token", "s3cr3t", "root_password", "hunter2", "elsewhere"):
        assert word not in shown


def test_a_linked_contexts_directory_out_of_the_rules_directory_is_refused(
        write_pack: Callable[..., Path], tmp_path: Path) -> None:
    outside = tmp_path / "profiles"
    outside.mkdir()
    (outside / "SOM.yaml").write_text(SECRET)
    root = write_pack({"good.yaml": GOOD})
    (root / "contexts").symlink_to(outside, target_is_directory=True)
    assert found(root) == {("SOM.yaml", 1, "link-outside")}
    # named on its own, a contexts directory is read where it is
    assert {p.code for p in check_bundle(root, outside)} == {"unknown-key", "bad-context"}


def test_links_that_stay_inside_the_rules_directory_are_read(
        write_pack: Callable[..., Path]) -> None:
    root = write_pack({})
    (root / "drafts").mkdir()
    (root / "drafts" / "escorts-v2.txt").write_text(GOOD)
    (root / "escorts.yaml").symlink_to(Path("drafts") / "escorts-v2.txt")
    assert check_bundle(root) == []


def test_a_loop_of_links_is_a_problem(write_pack: Callable[..., Path]) -> None:
    root = write_pack({"good.yaml": GOOD})
    (root / "a.yaml").symlink_to(root / "b.yaml")
    (root / "b.yaml").symlink_to(root / "a.yaml")
    assert {code for _, _, code in found(root)} == {"unreadable-file"}


def test_a_file_over_the_size_limit_is_refused(write_pack: Callable[..., Path]) -> None:
    filler = "# " + "x" * 78 + "\n"
    big = GOOD + filler * (MAX_FILE_BYTES // len(filler) + 1)
    root = write_pack({"big.yaml": big})
    assert found(root) == {("big.yaml", 1, "file-too-large")}
    (root / "big.yaml").write_text(GOOD + filler * ((MAX_FILE_BYTES - len(GOOD)) // len(filler)))
    assert check_bundle(root) == []  # just under the limit: read as usual


def _bomb(levels: int) -> str:
    """Nine values, each level nine aliases of the one before: 9**levels values."""
    lines = ["a0: &a0 [x,x,x,x,x,x,x,x,x]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_its_line(write_pack: Callable[..., Path]) -> None:
    # 9**6 = 531,441 values from under 300 bytes; the report's bomb had nine levels.
    text = _bomb(6)
    assert len(text) < 300
    assert MAX_ALIAS_VALUES < 9 ** 6
    root = write_pack({"good.yaml": GOOD, "bomb.yaml": text})
    problems = check_bundle(root)
    assert [(p.file.split("/")[-1], p.code) for p in problems] == [("bomb.yaml", "yaml-too-large")]
    assert problems[0].line == 6  # the last level, where the expansion passes the limit
    assert f"{MAX_ALIAS_VALUES:,} values" in problems[0].message


def test_aliases_within_the_limit_are_read(write_pack: Callable[..., Path]) -> None:
    refs = "references: [{source: test source, checked: U}]"
    text = pack(rule_yaml("TST-001", "escort.request", ["armed is true"]).replace(
                    refs, "references: &refs [{source: shared, checked: U}]"),
                rule_yaml("TST-002", "escort.request", ["armed is false"]).replace(
                    refs, "references: *refs"))
    root = write_pack({"good.yaml": text})
    assert check_bundle(root) == []
    rules = load_bundle(root).rules
    assert [r.references[0].source for r in rules] == ["shared", "shared"]


@pytest.mark.parametrize(("text", "code"), [
    ("pack: p\nrules: &r [*r]\n", "yaml-recursive"),
    ("pack: p\nrules: " + "[" * 150 + "]" * 150 + "\n", "yaml-too-deep"),
    ("pack: p\nrules: " + "9" * 5000 + "\n", "missing-rules"),  # read as a text, not an error
])
def test_recursive_nested_or_overlong_yaml_is_a_problem(write_pack: Callable[..., Path],
                                                       text: str, code: str) -> None:
    root = write_pack({"good.yaml": GOOD, "odd.yaml": text})
    assert found(root) == {("odd.yaml", 2, code)}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_pack_is_a_problem(write_pack: Callable[..., Path]) -> None:
    root = write_pack({"good.yaml": GOOD, "locked.yaml": GOOD})
    (root / "locked.yaml").chmod(0)
    assert found(root) == {("locked.yaml", 1, "unreadable-file")}


def test_adapter_mappings_share_the_bounds(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_bomb(6))
    with pytest.raises(MappingError, match=rf"{bomb}:6: yaml-too-large"):
        load_mapping(bomb)
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    with pytest.raises(MappingError, match=rf"{folder}:1: not-a-file"):
        load_mapping(folder)
