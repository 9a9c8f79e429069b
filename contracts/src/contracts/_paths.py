"""Where the contract data (schemas, vectors, released snapshots) lives on disk.

Two layouts are supported:

* the source tree (editable workspace install): the package sits at
  ``contracts/src/contracts/`` and the data at ``contracts/schemas/``,
  ``contracts/vectors/`` and ``contracts/released/``;
* an installed wheel: the build copies ``schemas/`` and ``vectors/`` into the package
  as ``contracts/_data/schemas`` and ``contracts/_data/vectors`` (there is no
  ``released/`` there: the compatibility check is a development tool).

The source tree wins when both exist, so edits to the schemas are seen without a
reinstall.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Overrides the lookup with a folder laid out like the source ``contracts/`` folder.
ENV_VAR = "PLATFORM_CONTRACTS_DIR"
_PROJECT_NAME = 'name = "platform-contracts"'
_ENVELOPE = "envelope.json"


@dataclass(frozen=True)
class DataDirs:
    """Resolved data folders. ``released`` is ``None`` when running from a wheel."""

    schemas: Path
    vectors: Path
    released: Path | None
    origin: str  # "env", "source" or "package": how the folders were found


class DataNotFoundError(RuntimeError):
    """The schemas folder could not be located; the package is broken or misinstalled."""


def _is_source_root(folder: Path) -> bool:
    # A stray "schemas" folder higher up the tree must not be mistaken for ours, so the
    # project file has to name this distribution.
    pyproject = folder / "pyproject.toml"
    if not (folder / "schemas" / _ENVELOPE).is_file() or not pyproject.is_file():
        return False
    try:
        return _PROJECT_NAME in pyproject.read_text(encoding="utf-8")
    except OSError:
        return False


def _from_root(root: Path, origin: str) -> DataDirs:
    return DataDirs(
        schemas=root / "schemas",
        vectors=root / "vectors",
        released=root / "released",
        origin=origin,
    )


def find_data_dirs(
    package_file: Path | None = None, environ: dict[str, str] | None = None
) -> DataDirs:
    """Locate the contract data for the package whose module file is ``package_file``.

    Order: the ``PLATFORM_CONTRACTS_DIR`` environment variable (must hold
    ``schemas/envelope.json``), then the nearest parent folder of the package that is
    the ``platform-contracts`` project root, then the packaged ``_data`` folder.

    Raises:
        DataNotFoundError: nothing usable was found (the message lists where it looked).
    """
    env = os.environ if environ is None else environ
    start = (package_file or Path(__file__)).resolve()
    looked: list[str] = []

    override = env.get(ENV_VAR)
    if override:
        root = Path(override)
        if (root / "schemas" / _ENVELOPE).is_file():
            return _from_root(root, "env")
        raise DataNotFoundError(f"{ENV_VAR}={override} has no schemas/{_ENVELOPE}")

    for parent in start.parents:
        if _is_source_root(parent):
            return _from_root(parent, "source")
        looked.append(str(parent))

    packaged = start.parent / "_data"
    if (packaged / "schemas" / _ENVELOPE).is_file():
        return DataDirs(
            schemas=packaged / "schemas",
            vectors=packaged / "vectors",
            released=None,
            origin="package",
        )
    looked.append(str(packaged))
    raise DataNotFoundError(
        "contract schemas not found; looked for a platform-contracts project root in "
        + ", ".join(looked)
    )
