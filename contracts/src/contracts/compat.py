"""Backward-compatibility check between a released schema and its current version.

Within a major version a schema may only grow: new optional properties, looser
constraints, more enum values, better descriptions. Everything that could make an event
valid under the released schema invalid under the new one (so replays and old data
break), or that takes away something consumers rely on, is breaking. A breaking change
needs a new major version: a new schema file and a new topic.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Keywords that describe rather than constrain; changing them never breaks anyone.
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$comment",
        "$anchor",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentMediaType",
        "contentEncoding",
    }
)
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_HANDLED = frozenset(
    {
        "$id",
        "$ref",
        "type",
        "const",
        "enum",
        "required",
        "pattern",
        "format",
        "multipleOf",
        "uniqueItems",
        "additionalProperties",
        "unevaluatedProperties",
        "items",
        "prefixItems",
        "allOf",
        "anyOf",
        "oneOf",
        "dependentRequired",
        *_UPPER_BOUNDS,
        *_LOWER_BOUNDS,
        *_SUBSCHEMA_MAPS,
    }
)
_OPEN: tuple[Any, ...] = (None, True, {})  # "anything goes" spellings of a subschema


def _types(schema: Mapping[str, Any]) -> frozenset[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    return frozenset([declared] if isinstance(declared, str) else declared)


def _fmt(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _join(path: str, *parts: str | int) -> str:
    return path + "".join(f"/{p}" for p in parts)


def check_compatible(old: Any, new: Any) -> list[str]:
    """Breaking changes from schema ``old`` to schema ``new`` (empty list: compatible).

    Each entry is ``"<JSON pointer>: <what changed>"``. Flags: a changed ``$id`` or
    ``$ref``; a removed property; a property newly required or no longer required; any
    change of ``type``; a const added, changed or removed; enum values removed or an
    enum added; tightened bounds (``maxLength`` lowered, ``minimum`` raised, a bound
    added, ...); a ``pattern`` or ``format`` added or changed; ``additionalProperties``
    or ``unevaluatedProperties`` restricted; fewer ``anyOf``/``oneOf`` alternatives or
    more ``allOf`` parts; and a change to any other assertion keyword it does not know to
    be safe. Annotations (title, description, examples, ...) are ignored.
    """
    out: list[str] = []
    _compare(old, new, "#", out)
    return out


def _compare(old: Any, new: Any, path: str, out: list[str]) -> None:
    if old == new:
        return
    if isinstance(old, bool) or isinstance(new, bool):
        # true and {} both accept anything; false accepts nothing.
        old_open, new_open = old in (True, {}), new in (True, {})
        if new is False:
            out.append(f"{path}: schema now rejects everything")
        elif old_open and not new_open:
            out.append(f"{path}: an unconstrained schema gained constraints")
        return
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        out.append(f"{path}: schema changed from {_fmt(old)} to {_fmt(new)}")
        return

    for keyword in ("$id", "$ref"):
        if old.get(keyword) != new.get(keyword):
            was, now = _fmt(old.get(keyword)), _fmt(new.get(keyword))
            out.append(f"{path}: {keyword} changed from {was} to {now}")

    old_types, new_types = _types(old), _types(new)
    if old_types != new_types:
        show = lambda t: "any" if t is None else "/".join(sorted(t))  # noqa: E731
        out.append(f"{path}: type changed from {show(old_types)} to {show(new_types)}")

    if "const" in new and ("const" not in old or old["const"] != new["const"]):
        out.append(
            f"{path}: const {'changed' if 'const' in old else 'added'}: {_fmt(new['const'])}"
        )
    elif "const" in old and "const" not in new:
        out.append(f"{path}: const {_fmt(old['const'])} removed; consumers rely on the fixed value")

    if "enum" in new:
        if "enum" not in old:
            out.append(f"{path}: enum added, restricting values to {_fmt(new['enum'])}")
        else:
            removed = [v for v in old["enum"] if v not in new["enum"]]
            if removed:
                out.append(f"{path}: enum narrowed, values removed: {_fmt(removed)}")

    for keyword in _UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            was = old.get(keyword, "none")
            out.append(f"{path}: {keyword} tightened from {was} to {new[keyword]}")
    for keyword in _LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            was = old.get(keyword, "none")
            out.append(f"{path}: {keyword} tightened from {was} to {new[keyword]}")
    if "multipleOf" in new and (
        "multipleOf" not in old or (old["multipleOf"] / new["multipleOf"]) % 1 != 0
    ):
        out.append(f"{path}: multipleOf tightened to {new['multipleOf']}")
    for keyword in ("pattern", "format"):
        if keyword in new and old.get(keyword) != new[keyword]:
            verb = "changed" if keyword in old else "added"
            out.append(f"{path}: {keyword} {verb}: {_fmt(new[keyword])}")
    if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
        out.append(f"{path}: uniqueItems turned on")

    old_required = set(old.get("required", []))
    new_required = set(new.get("required", []))
    for name in sorted(new_required - old_required):
        out.append(f"{path}: property {name!r} is newly required")
    for name in sorted(old_required - new_required):
        out.append(f"{path}: property {name!r} is no longer required; consumers rely on it")
    old_deps = old.get("dependentRequired", {})
    for name, needs in new.get("dependentRequired", {}).items():
        added = sorted(set(needs) - set(old_deps.get(name, [])))
        if added:
            out.append(f"{path}: dependentRequired on {name!r} gained {_fmt(added)}")

    for keyword in _SUBSCHEMA_MAPS:
        old_map, new_map = old.get(keyword, {}), new.get(keyword, {})
        for name in sorted(old_map):
            where = _join(path, keyword, name)
            if name not in new_map:
                what = "property" if keyword == "properties" else "entry"
                out.append(f"{where}: {what} removed")
            else:
                _compare(old_map[name], new_map[name], where, out)
        if keyword == "dependentSchemas":
            for name in sorted(set(new_map) - set(old_map)):
                out.append(f"{_join(path, keyword, name)}: dependent schema added")

    for keyword in ("additionalProperties", "unevaluatedProperties"):
        old_sub, new_sub = old.get(keyword), new.get(keyword)
        if new_sub is False and old_sub is not False:
            out.append(f"{path}: {keyword} turned false")
        elif old_sub in _OPEN and new_sub not in _OPEN:
            out.append(f"{path}: {keyword} restricted to {_fmt(new_sub)}")
        elif old_sub not in _OPEN and new_sub not in _OPEN:
            _compare(old_sub, new_sub, _join(path, keyword), out)

    old_items, new_items = old.get("items"), new.get("items")
    if old_items in _OPEN and new_items not in _OPEN:
        out.append(f"{path}: items restricted to {_fmt(new_items)}")
    elif old_items not in _OPEN and new_items not in _OPEN:
        _compare(old_items, new_items, _join(path, "items"), out)

    old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
    for i, (o, n) in enumerate(zip(old_prefix, new_prefix, strict=False)):
        _compare(o, n, _join(path, "prefixItems", i), out)
    if len(new_prefix) > len(old_prefix):
        out.append(f"{path}: prefixItems gained positions")
    elif len(new_prefix) < len(old_prefix):
        out.append(f"{path}: prefixItems lost positions")

    for keyword, growing_breaks in (("allOf", True), ("anyOf", False), ("oneOf", False)):
        old_list, new_list = old.get(keyword, []), new.get(keyword, [])
        for i, (o, n) in enumerate(zip(old_list, new_list, strict=False)):
            _compare(o, n, _join(path, keyword, i), out)
        if growing_breaks and len(new_list) > len(old_list):
            out.append(f"{path}: {keyword} gained {len(new_list) - len(old_list)} subschema(s)")
        if not growing_breaks and len(new_list) < len(old_list) and old_list:
            out.append(f"{path}: {keyword} lost {len(old_list) - len(new_list)} alternative(s)")

    for keyword in sorted((set(old) | set(new)) - _HANDLED - _ANNOTATIONS):
        if keyword.startswith("x-"):
            continue
        if old.get(keyword) != new.get(keyword):
            out.append(f"{path}: {keyword} changed; not known to be backward compatible")


def _schema_files(folder: Path) -> dict[str, Path]:
    return {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*.json"))
        if p.relative_to(folder).as_posix() != "topics.json"
    }


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _check_topics(released: Path, current: Path) -> list[str]:
    if not released.is_file():
        return []
    if not current.is_file():
        return ["topics.json: removed"]
    old_topics = _read(released).get("topics", {})
    new_topics = _read(current).get("topics", {})
    out = []
    for topic, entry in sorted(old_topics.items()):
        if topic not in new_topics:
            out.append(f"topics.json: topic {topic!r} removed")
            continue
        new_aggregates = new_topics[topic].get("aggregates", {})
        for aggregate, spec in sorted(entry.get("aggregates", {}).items()):
            if aggregate not in new_aggregates:
                out.append(f"topics.json: aggregate {aggregate!r} moved off topic {topic!r}")
            elif new_aggregates[aggregate].get("key") != spec.get("key"):
                out.append(
                    f"topics.json: key of {aggregate!r} on {topic!r} changed from "
                    f"{spec.get('key')!r} to {new_aggregates[aggregate].get('key')!r}"
                )
    return out


def check_released(released_dir: Path, schemas_dir: Path) -> list[str]:
    """Breaking changes of the schemas in ``schemas_dir`` against the snapshot in ``released_dir``.

    Every released schema file must still exist and be compatible (see
    :func:`check_compatible`); every released topic must still carry the same aggregates
    with the same key field. New files are always fine. Entries are prefixed with the
    schema's path relative to the schemas folder.
    """
    if not released_dir.is_dir():
        return []
    current = _schema_files(schemas_dir)
    out = []
    for rel, old_path in _schema_files(released_dir).items():
        if rel not in current:
            out.append(f"{rel}: released schema removed")
            continue
        out += [f"{rel}{line}" for line in check_compatible(_read(old_path), _read(current[rel]))]
    out += _check_topics(released_dir / "topics.json", schemas_dir / "topics.json")
    return out


def release(schemas_dir: Path, released_dir: Path, *, force: bool = False) -> list[str]:
    """Snapshot ``schemas_dir`` into ``released_dir`` (replacing it) and return the files written.

    Refuses when the current schemas break the existing snapshot, unless ``force``.

    Raises:
        ValueError: breaking changes and not ``force``; the message lists them.
    """
    breaking = check_released(released_dir, schemas_dir)
    if breaking and not force:
        raise ValueError("refusing to release breaking changes:\n  " + "\n  ".join(breaking))
    staging = released_dir.with_name(released_dir.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    # Only the JSON documents are the contract; notes beside them are not released.
    for source in sorted(schemas_dir.rglob("*.json")):
        target = staging / source.relative_to(schemas_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    staging.mkdir(exist_ok=True)
    if released_dir.exists():
        shutil.rmtree(released_dir)
    staging.rename(released_dir)
    return sorted(p.relative_to(released_dir).as_posix() for p in released_dir.rglob("*.json"))
