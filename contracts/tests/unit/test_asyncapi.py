"""asyncapi.yaml lists exactly the topics and event types the registry knows."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

import contracts
from contracts import asyncapi
from contracts.__main__ import main
from contracts.registry import data_dirs, default_registry

ROOT = data_dirs().schemas.parent
DOC = yaml.safe_load((ROOT / "asyncapi.yaml").read_text(encoding="utf-8"))


def _resolve(ref: str) -> dict:
    assert ref.startswith("#/"), ref
    node = DOC
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_document_is_asyncapi_3():
    assert DOC["asyncapi"].startswith("3.")
    assert DOC["defaultContentType"] == "application/json"


def test_channels_are_exactly_the_registry_topics():
    addresses = {channel["address"] for channel in DOC["channels"].values()}
    assert addresses == set(contracts.TOPICS)


def test_each_channel_carries_exactly_its_topics_event_types():
    for channel in DOC["channels"].values():
        types = set()
        for ref in channel["messages"].values():
            message = _resolve(ref["$ref"])
            consts = message["headers"]["allOf"][1]["properties"]
            assert consts["ce_type"]["const"] == message["name"]
            types.add(message["name"])
        assert sorted(types) == contracts.TOPICS[channel["address"]]


def test_every_message_is_sent_by_an_operation():
    sent = set()
    for operation in DOC["operations"].values():
        assert operation["action"] == "send"
        channel = _resolve(operation["channel"]["$ref"])
        for ref in operation["messages"]:
            assert ref["$ref"].startswith(f"#/channels/{channel['address']}/messages/")
            sent.add(_resolve(ref["$ref"])["$ref"].rsplit("/", 1)[1])
    assert sorted(sent) == contracts.event_types()


def test_messages_reference_the_schema_files_with_the_right_ids():
    messages = DOC["components"]["messages"]
    assert sorted(messages) == contracts.event_types()
    for event_type, message in messages.items():
        payload = json.loads((ROOT / message["payload"]["$ref"]).read_text(encoding="utf-8"))
        assert payload["$id"] == contracts.dataschema_uri(event_type)
        envelope_ref = message["headers"]["allOf"][0]["$ref"]
        assert json.loads((ROOT / envelope_ref).read_text())["$id"] == contracts.ENVELOPE_URI
        consts = message["headers"]["allOf"][1]["properties"]
        assert consts["ce_dataschema"]["const"] == contracts.dataschema_uri(event_type)
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        assert message["x-topic"] == contracts.topic_for(event_type)
        assert message["x-key-field"] == contracts.key_field(event_type)


def test_every_ce_header_is_documented_through_the_envelope():
    envelope = contracts.load_envelope_schema()
    assert set(contracts.REQUIRED_HEADERS) <= set(envelope["properties"])


def test_committed_document_is_what_the_generator_writes():
    assert (ROOT / "asyncapi.yaml").read_text(encoding="utf-8") == asyncapi.render(
        default_registry()
    )
    assert main(["asyncapi", "--check"]) == 0


def test_check_mode_fails_on_a_stale_document(tmp_path: Path, capsys):
    import shutil

    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    (tmp_path / "asyncapi.yaml").write_text("asyncapi: 3.0.0\n")
    assert main(["--contracts-dir", str(tmp_path), "asyncapi", "--check"]) == 1
    assert "is stale" in capsys.readouterr().err
    assert main(["--contracts-dir", str(tmp_path), "asyncapi"]) == 0
    assert main(["--contracts-dir", str(tmp_path), "asyncapi", "--check"]) == 0
