"""Finding the schemas in a source checkout, an installed wheel, or an override."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from contracts._paths import ENV_VAR, DataNotFoundError, find_data_dirs
from contracts.registry import data_dirs

SOURCE = data_dirs()
PACKAGE_DIR = Path(__import__("contracts").__file__).parent


def _wheel_layout(site: Path) -> Path:
    """Lay out ``site`` the way the wheel installs: package plus ``_data``."""
    package = site / "contracts"
    shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SOURCE.schemas, package / "_data" / "schemas")
    shutil.copytree(SOURCE.vectors, package / "_data" / "vectors")
    return package


def test_the_workspace_install_reads_the_source_tree():
    assert SOURCE.origin == "source"
    assert (SOURCE.schemas / "envelope.json").is_file()
    assert SOURCE.released == SOURCE.schemas.parent / "released"
    assert (SOURCE.schemas.parent / "pyproject.toml").is_file()


def test_a_wheel_layout_falls_back_to_the_packaged_data(tmp_path):
    package = _wheel_layout(tmp_path / "site")
    dirs = find_data_dirs(package / "_paths.py", environ={})
    assert dirs.origin == "package"
    assert dirs.schemas == package / "_data" / "schemas"
    assert dirs.vectors == package / "_data" / "vectors"
    assert dirs.released is None


def test_a_stray_schemas_folder_above_the_package_is_not_mistaken_for_ours(tmp_path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "envelope.json").write_text("{}")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    package = _wheel_layout(tmp_path / "lib" / "site-packages")
    assert find_data_dirs(package / "_paths.py", environ={}).origin == "package"


def test_the_environment_variable_overrides_the_lookup(tmp_path):
    shutil.copytree(SOURCE.schemas, tmp_path / "schemas")
    dirs = find_data_dirs(environ={ENV_VAR: str(tmp_path)})
    assert (dirs.origin, dirs.schemas) == ("env", tmp_path / "schemas")
    with pytest.raises(DataNotFoundError, match=r"has no schemas/envelope.json"):
        find_data_dirs(environ={ENV_VAR: str(tmp_path / "nowhere")})


def test_missing_data_is_a_clear_error(tmp_path):
    (tmp_path / "contracts").mkdir()
    with pytest.raises(DataNotFoundError, match=r"contract schemas not found"):
        find_data_dirs(tmp_path / "contracts" / "_paths.py", environ={})


def test_an_installed_copy_works_end_to_end_from_its_packaged_data(tmp_path):
    site = tmp_path / "site"
    _wheel_layout(site)
    script = (
        "import json, contracts\n"
        "from contracts.registry import data_dirs\n"
        "vectors = contracts.load_vectors()\n"
        "for v in vectors:\n"
        "    if v.valid: contracts.validate_event(v.event)\n"
        "print(json.dumps({'file': contracts.__file__, 'origin': data_dirs().origin,\n"
        "                  'types': contracts.event_types(), 'vectors': len(vectors)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["file"].startswith(str(site))
    assert result["origin"] == "package"
    assert result["types"] == sorted(p.name for p in SOURCE.vectors.iterdir() if p.is_dir())
    assert result["vectors"] > 0
