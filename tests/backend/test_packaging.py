"""The project's own files agree with each other: versions, schema."""

from __future__ import annotations

import tomllib
from pathlib import Path

import underpaint
from underpaint.shot import schema

ROOT = Path(__file__).resolve().parents[2]


def test_versions_agree() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())["version"]
    assert underpaint.__version__ == pyproject == manifest


def test_checked_in_json_schema_matches_the_models() -> None:
    assert schema.main(["--check"]) == 0
