"""The backward-compatibility checker and the released snapshot."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from contracts import check_compatible, check_released, load_schema
from contracts.__main__ import main
from contracts.compat import release
from contracts.registry import data_dirs

BASE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://schemas.platform.example/test/thing.happened/v1.json",
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "name": {"type": "string", "minLength": 1, "maxLength": 64},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "score": {"type": "number", "minimum": 0, "maximum": 100},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}},
        "note": {"type": ["string", "null"]},
    },
    "additionalProperties": True,
}


def _changed(edit):
    new = copy.deepcopy(BASE)
    edit(new)
    return new


# -- compatible changes -------------------------------------------------------------

COMPATIBLE = {
    "identical": lambda s: None,
    "new optional property": lambda s: s["properties"].update(extra={"type": "integer"}),
    "description changed": lambda s: s["properties"]["name"].update(description="The name."),
    "title and examples added": lambda s: s.update(title="Thing", examples=[{}]),
    "enum widened": lambda s: s["properties"]["kind"]["enum"].append("c"),
    "maxLength raised": lambda s: s["properties"]["name"].update(maxLength=128),
    "minLength lowered": lambda s: s["properties"]["name"].update(minLength=0),
    "maximum removed": lambda s: s["properties"]["score"].pop("maximum"),
    "nested maxLength raised": lambda s: s["properties"]["tags"]["items"].update(maxLength=40),
    "additionalProperties removed (still open)": lambda s: s.pop("additionalProperties"),
    "format removed": lambda s: s["properties"]["id"].pop("format"),
    "vendor extension": lambda s: s.update({"x-owner": "identity"}),
}


@pytest.mark.parametrize("edit", COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_compatible_changes_are_not_flagged(edit):
    assert check_compatible(BASE, _changed(edit)) == []


# -- breaking changes ---------------------------------------------------------------

BREAKING = {
    "property removed": (
        lambda s: s["properties"].pop("kind"),
        "#/properties/kind: property removed",
    ),
    "property newly required": (
        lambda s: s["required"].append("kind"),
        "#: property 'kind' is newly required",
    ),
    "property no longer required": (
        lambda s: s["required"].remove("name"),
        "#: property 'name' is no longer required",
    ),
    "type changed": (
        lambda s: s["properties"]["score"].update(type="integer"),
        "#/properties/score: type changed from number to integer",
    ),
    "type widened to nullable": (
        lambda s: s["properties"]["name"].update(type=["string", "null"]),
        "#/properties/name: type changed from string to null/string",
    ),
    "enum narrowed": (
        lambda s: s["properties"]["kind"].update(enum=["a"]),
        '#/properties/kind: enum narrowed, values removed: ["b"]',
    ),
    "enum added": (
        lambda s: s["properties"]["note"].update(enum=["x", None]),
        "#/properties/note: enum added",
    ),
    "maxLength decreased": (
        lambda s: s["properties"]["name"].update(maxLength=32),
        "#/properties/name: maxLength tightened from 64 to 32",
    ),
    "minLength increased": (
        lambda s: s["properties"]["name"].update(minLength=3),
        "#/properties/name: minLength tightened from 1 to 3",
    ),
    "maximum decreased": (
        lambda s: s["properties"]["score"].update(maximum=10),
        "#/properties/score: maximum tightened from 100 to 10",
    ),
    "bound added": (
        lambda s: s["properties"]["note"].update(maxLength=10),
        "#/properties/note: maxLength tightened from none to 10",
    ),
    "nested item constraint tightened": (
        lambda s: s["properties"]["tags"]["items"].update(maxLength=5),
        "#/properties/tags/items: maxLength tightened from 20 to 5",
    ),
    "pattern added": (
        lambda s: s["properties"]["name"].update(pattern="^[a-z]+$"),
        '#/properties/name: pattern added: "^[a-z]+$"',
    ),
    "format changed": (
        lambda s: s["properties"]["id"].update(format="uri"),
        '#/properties/id: format changed: "uri"',
    ),
    "additionalProperties turned false": (
        lambda s: s.update(additionalProperties=False),
        "#: additionalProperties turned false",
    ),
    "additionalProperties restricted": (
        lambda s: s.update(additionalProperties={"type": "string"}),
        "#: additionalProperties restricted",
    ),
    "const added": (
        lambda s: s["properties"]["kind"].update(const="a"),
        '#/properties/kind: const added: "a"',
    ),
    "$id changed": (
        lambda s: s.update({"$id": "https://schemas.platform.example/test/thing.happened/v2.json"}),
        "#: $id changed",
    ),
    "property schema turned false": (
        lambda s: s["properties"].update(note=False),
        "#/properties/note: schema now rejects everything",
    ),
    "allOf added": (
        lambda s: s.update(allOf=[{"required": ["kind"]}]),
        "#: allOf gained 1 subschema(s)",
    ),
    "unknown assertion keyword added": (
        lambda s: s.update(minContains=2),
        "#: minContains changed; not known to be backward compatible",
    ),
}


@pytest.mark.parametrize("case", BREAKING.values(), ids=BREAKING.keys())
def test_breaking_changes_are_flagged_with_where_and_what(case):
    edit, expected = case
    problems = check_compatible(BASE, _changed(edit))
    assert any(p.startswith(expected) for p in problems), problems


def test_several_breaks_are_all_reported():
    def edit(s):
        s["properties"].pop("note")
        s["properties"]["name"]["maxLength"] = 10
        s["required"].append("score")

    assert len(check_compatible(BASE, _changed(edit))) == 3


def test_checker_does_not_modify_its_inputs():
    old, new = copy.deepcopy(BASE), _changed(lambda s: s["properties"].pop("kind"))
    frozen_old, frozen_new = copy.deepcopy(old), copy.deepcopy(new)
    check_compatible(old, new)
    assert (old, new) == (frozen_old, frozen_new)


# -- the real schemas against the released snapshot ------------------------------------


def test_current_schemas_are_compatible_with_the_released_snapshot():
    dirs = data_dirs()
    assert dirs.released is not None and dirs.released.is_dir()
    assert check_released(dirs.released, dirs.schemas) == []


def test_every_current_schema_has_been_released():
    dirs = data_dirs()
    assert dirs.released is not None
    current = {p.relative_to(dirs.schemas) for p in dirs.schemas.rglob("*.json")}
    released = {p.relative_to(dirs.released) for p in dirs.released.rglob("*.json")}
    assert current == released, "run `python -m contracts release` after adding a schema"


def test_real_user_schema_loses_a_field_is_breaking():
    old = load_schema("identity.user.updated")
    new = copy.deepcopy(old)
    del new["properties"]["locale"]
    new["required"].remove("locale")
    assert check_compatible(old, new) == [
        "#: property 'locale' is no longer required; consumers rely on it",
        "#/properties/locale: property removed",
    ]


@pytest.fixture
def tree(tmp_path):
    """A copy of contracts/ (schemas + released) to release and check in."""
    dirs = data_dirs()
    shutil.copytree(dirs.schemas, tmp_path / "schemas")
    assert dirs.released is not None
    shutil.copytree(dirs.released, tmp_path / "released")
    return tmp_path


def _edit_schema(tree, name, edit):
    path = tree / "schemas" / "identity" / name
    schema = json.loads(path.read_text())
    edit(schema)
    path.write_text(json.dumps(schema))


def test_check_cli_exits_1_on_a_breaking_change_and_0_otherwise(tree, capsys):
    assert main(["--contracts-dir", str(tree), "check"]) == 0
    _edit_schema(
        tree, "user.registered.v1.json", lambda s: s["properties"]["username"].update(maxLength=8)
    )
    assert main(["--contracts-dir", str(tree), "check"]) == 1
    err = capsys.readouterr().err
    assert (
        "identity/user.registered.v1.json#/properties/username: maxLength tightened from 64 to 8"
        in err
    )


def test_removing_a_released_schema_or_moving_a_topic_is_breaking(tree):
    (tree / "schemas" / "identity" / "block.removed.v1.json").unlink()
    topics = json.loads((tree / "schemas" / "topics.json").read_text())
    topics["topics"]["identity.graph.v1"]["aggregates"]["identity.follow"]["key"] = "followee_id"
    (tree / "schemas" / "topics.json").write_text(json.dumps(topics))
    problems = check_released(tree / "released", tree / "schemas")
    assert "identity/block.removed.v1.json: released schema removed" in problems
    assert any("key of 'identity.follow' on 'identity.graph.v1' changed" in p for p in problems)


def test_release_snapshots_compatible_changes_and_refuses_breaking_ones(tree, capsys):
    _edit_schema(
        tree, "user.deleted.v1.json", lambda s: s["properties"].update(reason={"type": "string"})
    )
    assert main(["--contracts-dir", str(tree), "release"]) == 0
    released = json.loads((tree / "released" / "identity" / "user.deleted.v1.json").read_text())
    assert "reason" in released["properties"]

    _edit_schema(tree, "user.deleted.v1.json", lambda s: s["properties"].pop("reason"))
    assert main(["--contracts-dir", str(tree), "release"]) == 1
    assert "refusing to release breaking changes" in capsys.readouterr().err
    released = json.loads((tree / "released" / "identity" / "user.deleted.v1.json").read_text())
    assert "reason" in released["properties"], "a refused release leaves the snapshot alone"


def test_release_only_copies_json_documents(tree):
    (tree / "schemas" / "NOTES.md").write_text("notes")
    written = release(tree / "schemas", tree / "released")
    assert "NOTES.md" not in written and not (tree / "released" / "NOTES.md").exists()
    assert "topics.json" in written and "envelope.json" in written
