"""The project's own files agree with each other: packages, versions, schema."""

from __future__ import annotations

import tomllib
from pathlib import Path

import underpaint
from underpaint.shot import schema

ROOT = Path(__file__).resolve().parents[2]


def test_every_backend_folder_is_a_listed_package() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {"underpaint"} | {
        "underpaint." + p.parent.relative_to(ROOT / "backend").as_posix().replace("/", ".")
        for p in (ROOT / "backend").rglob("__init__.py")
        if p.parent != ROOT / "backend"
    }
    assert folders == listed


def test_versions_agree() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())["version"]
    assert underpaint.__version__ == pyproject == manifest


def test_checked_in_json_schema_matches_the_models() -> None:
    assert schema.main(["--check"]) == 0
