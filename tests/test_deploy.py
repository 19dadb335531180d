"""Static checks of deploy/: images, compose file and Kubernetes manifests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_deploy_files_pass_the_static_checks() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "deploy" / "check_static.py")],
                            capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
