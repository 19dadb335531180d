"""Write the schema's SDL to gateway/schema.graphql, or check it for drift.

uv run python -m shanzhi_gateway.export_schema          # write the file
uv run python -m shanzhi_gateway.export_schema --check  # exit 1 if it differs
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

#: gateway/schema.graphql, next to gateway/src/.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "schema.graphql"


def sdl() -> str:
    """The SDL of the schema, as written to the file."""
    from shanzhi_gateway.schema import schema

    return schema.as_str().rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH, help="the SDL file")
    args = parser.parse_args(argv)
    current = sdl()
    path: Path = args.output
    if args.check:
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
        if existing == current:
            print(f"{path} is up to date")
            return 0
        diff = difflib.unified_diff(
            existing.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=str(path),
            tofile="schema",
        )
        sys.stdout.writelines(diff)
        print(
            f"\n{path} is out of date: run `uv run python -m shanzhi_gateway.export_schema`",
            file=sys.stderr,
        )
        return 1
    path.write_text(current, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
