"""The Space installs from requirements.txt; it must say exactly what the lock file says."""

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _requirements_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_requirements_txt_matches_lock_file():
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed: scripts/dev.sh installs it before the tests run")
    exported = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project",
         "--format", "requirements-txt"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    committed = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert _requirements_lines(committed) == _requirements_lines(exported), (
        "requirements.txt is stale: regenerate it with the command in its header")


def test_space_front_matter_pins_the_locked_gradio():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("---\n")
    front = readme.split("---\n")[1]
    fields = dict(line.split(":", 1) for line in front.strip().splitlines() if ":" in line)
    fields = {k.strip(): v.strip().strip('"') for k, v in fields.items()}
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    gradio = next(p["version"] for p in lock["package"] if p["name"] == "gradio")
    assert fields["sdk"] == "gradio"
    assert fields["sdk_version"] == gradio
    assert fields["app_file"] == "app.py"
    assert (ROOT / fields["app_file"]).exists()
    assert fields["python_version"].startswith("3.11")
