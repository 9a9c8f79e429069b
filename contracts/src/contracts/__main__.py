"""``python -m contracts <command>``: release, check, asyncapi. See ``--help``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contracts import asyncapi
from contracts.compat import check_released, release
from contracts.errors import ContractError
from contracts.registry import Registry, data_dirs


def _dirs(args: argparse.Namespace) -> tuple[Path, Path]:
    if args.contracts_dir:
        root = Path(args.contracts_dir)
        return root / "schemas", root / "released"
    dirs = data_dirs()
    if dirs.released is None:
        raise SystemExit(
            "no released/ folder: run this from a source checkout or pass --contracts-dir"
        )
    return dirs.schemas, dirs.released


def _check(args: argparse.Namespace) -> int:
    schemas, released = _dirs(args)
    Registry.load(schemas)  # an inconsistent registry is as broken as an incompatible schema
    breaking = check_released(released, schemas)
    if breaking:
        print(f"{len(breaking)} breaking change(s) against {released}:", file=sys.stderr)
        for line in breaking:
            print(f"  {line}", file=sys.stderr)
        print(
            "A breaking change needs a new major version (new schema file, new topic).",
            file=sys.stderr,
        )
        return 1
    print(f"compatible with {released}")
    return 0


def _release(args: argparse.Namespace) -> int:
    schemas, released = _dirs(args)
    Registry.load(schemas)
    try:
        written = release(schemas, released, force=args.force)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"released {len(written)} file(s) into {released}")
    return 0


def _asyncapi(args: argparse.Namespace) -> int:
    schemas = Path(args.contracts_dir) / "schemas" if args.contracts_dir else data_dirs().schemas
    registry = Registry.load(schemas)
    path = asyncapi.asyncapi_path(registry)
    text = asyncapi.render(registry)
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run `python -m contracts asyncapi`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 breaking/stale/refused)."""
    parser = argparse.ArgumentParser(prog="python -m contracts", description=__doc__)
    parser.add_argument("--contracts-dir", help="the contracts/ folder (default: this package's)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="fail (exit 1) if schemas break the released snapshot")
    rel = sub.add_parser("release", help="snapshot schemas/ into released/")
    rel.add_argument("--force", action="store_true", help="release even if breaking")
    api = sub.add_parser("asyncapi", help="regenerate asyncapi.yaml")
    api.add_argument("--check", action="store_true", help="fail (exit 1) if asyncapi.yaml is stale")
    args = parser.parse_args(argv)
    handler = {"check": _check, "release": _release, "asyncapi": _asyncapi}[args.command]
    try:
        return handler(args)
    except ContractError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
