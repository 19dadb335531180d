"""Contract checks: the generated code matches proto/, and protos follow the layout."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_matches_the_protos() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_every_proto_sits_in_its_versioned_package_folder() -> None:
    for proto in (ROOT / "proto").rglob("*.proto"):
        package = re.search(r"^package ([\w.]+);", proto.read_text(), re.M)
        assert package, f"{proto} has no package"
        folder = proto.parent.relative_to(ROOT / "proto").as_posix().replace("/", ".")
        assert package.group(1) == folder, f"{proto}: package {package.group(1)} != {folder}"
        assert re.fullmatch(r"shanzhi\.\w+\.v\d+", folder)
