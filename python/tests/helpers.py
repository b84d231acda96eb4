"""Shared test helpers: paths, the SynthReID XS folder (written by `lab generate` when missing),
and running the CLI as a child process."""
import os
import subprocess
import sys
import tempfile

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(PYTHON_DIR)
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
XS_DIR = os.environ.get("PRUNABILITY_XS_DATA", os.path.join(ROOT, ".cache", "synthreid-xs-source-64x32"))


def xs_data() -> str:
    """SynthReID XS source at 64x32, generated once by the lab's own CLI (a few seconds)."""
    if not os.path.isfile(os.path.join(XS_DIR, "manifest.json")):
        subprocess.run(["npx", "tsx", "src/cli/lab.ts", "generate", "--tier", "XS", "--domain", "source", "--height", "64",
                        "--img-width", "32", "--out", XS_DIR], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return XS_DIR


def run_cli(*args: str, env=None, timeout: int = 600) -> subprocess.CompletedProcess:
    e = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS="1")
    if env:
        e.update(env)
    return subprocess.run([PYTHON, "-m", "prunability_torch", *args], cwd=PYTHON_DIR, env=e, capture_output=True, text=True, timeout=timeout)


def tmpdir() -> str:
    return tempfile.mkdtemp(prefix="ptorch-test-")
