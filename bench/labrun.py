"""What the lab benchmarks share: a copy of the example in a temporary directory, dcn
run as a subprocess against it, and the lab torn down at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dcn-basic.yaml"


@dataclass(frozen=True)
class LabRun:
    work: Path
    desc: Path
    env: dict[str, str]

    def dcn(self, *argv: str, what: str = "") -> str:
        """Run dcn; exit the benchmark with its output if it fails."""
        result = subprocess.run(
            [sys.executable, "-m", "dcn.cli", *argv], env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            sys.exit(f"{what or 'dcn ' + ' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout


@contextmanager
def lab_run(prefix: str, keep: bool, example: Path = EXAMPLE) -> Iterator[LabRun]:
    work = Path(tempfile.mkdtemp(prefix=prefix))
    desc = work / "dcn.yaml"
    shutil.copy(example, desc)
    env = {**os.environ, "DCN_FILE": str(desc), "DCN_STATE_DIR": str(work / "state")}
    try:
        yield LabRun(work, desc, env)
    finally:
        if not keep:
            subprocess.run(
                [sys.executable, "-m", "dcn.cli", "lab", "down"], env=env, capture_output=True
            )
            shutil.rmtree(work, ignore_errors=True)
