"""The README's snippets run as written (or, where they need FER2013, at least parse)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```(python|bash)\n(.*?)^```", README.read_text(), re.M | re.S)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
BASH = [code for lang, code in BLOCKS if lang == "bash"]


def _needs(code):
    """Why a snippet cannot run here as written, or None."""
    if "fer2013.csv" in code:
        return "needs FER2013 and hours of training"
    if "scheduler-host" in code:
        return "needs a Dask cluster"
    return None


def test_the_readme_has_snippets():
    assert len(PYTHON) >= 4 and len(BASH) >= 4


@pytest.mark.parametrize("code", PYTHON, ids=[f"python{i}" for i in range(len(PYTHON))])
def test_python_snippets_run_as_written(code, tmp_path):
    compile(code, "README.md", "exec")  # every snippet at least parses
    imports = "\n".join(line for line in code.splitlines()
                        if line.startswith(("import ", "from ")))
    exec(compile(imports, "README.md", "exec"), {})  # and names what exists
    reason = _needs(code)
    if reason:
        pytest.skip(reason)
    if "FaceCropper" in code:
        pytest.importorskip("cv2")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""  # quiet: no TensorFlow start-up lines, no warnings


def _commands():
    """Every fer-classifier command line in the README's shell blocks."""
    for code in BASH:
        code = code.replace("\\\n", " ")
        for line in code.splitlines():
            line = line.split("#")[0].strip()
            for part in re.split(r"&&|;", line):
                words = shlex.split(part)
                if words[:1] == ["fer-classifier"]:
                    yield words[1:]


@pytest.mark.parametrize("args", list(_commands()), ids=lambda a: " ".join(a)[:40])
def test_command_lines_parse(args):
    from fer_classifier.cli import build_parser

    namespace = build_parser().parse_args(args)  # exits with status 2 on a stale option
    assert callable(namespace.func)


def test_the_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    first_lines = README.read_text().splitlines()[:6]
    assert any("python -m pytest" in line for line in first_lines)
    assert "\npython -m pytest\n" in ci
