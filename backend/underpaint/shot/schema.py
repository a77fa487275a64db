"""Generate the checked-in JSON schema of the shot package from the pydantic models.

    python -m underpaint.shot.schema          # rewrite backend/underpaint/shot/*.schema.json
    python -m underpaint.shot.schema --check  # exit 1 when the files are stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel

from .models import PoseFile, Shot

HERE = Path(__file__).resolve().parent
SCHEMAS: dict[str, type[BaseModel]] = {"shot.schema.json": Shot, "pose.schema.json": PoseFile}


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write or check the shot package JSON schemas")
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args(argv)
    stale = []
    for name, model in SCHEMAS.items():
        path, text = HERE / name, render(model)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale schema files: {stale}; run: python -m underpaint.shot.schema", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
