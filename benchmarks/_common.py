"""Helpers shared by the benchmark scripts (not part of the library)."""

import os
import platform
from pathlib import Path

# The project's development machines keep FER2013 next to the checkout.
_SHARED = Path(__file__).resolve().parents[1].parent / "shared/data/fer2013/fer2013.csv.gz"


def data_path(arg):
    """The FER2013 file to use: the argument, $FER_CLASSIFIER_DATA, or ../shared."""
    if arg:
        return Path(arg)
    if os.environ.get("FER_CLASSIFIER_DATA"):
        return Path(os.environ["FER_CLASSIFIER_DATA"])
    if _SHARED.is_file():
        return _SHARED
    raise SystemExit(
        "FER2013 not found: pass --data PATH/fer2013.csv(.gz) or set FER_CLASSIFIER_DATA."
    )


def _cpu():
    """The CPU's model name and its widest vector / matrix units (Linux), else ''."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")), "")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines()
                      if line.startswith("flags")), []))
    units = [label for flag, label in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"),
                                       ("avx512f", "AVX-512"), ("avx2", "AVX2"))
             if flag in flags]
    return f"{name} ({', '.join(units[:2]) or 'no AVX2'})" if name else ""


def machine():
    """One line describing where the figures were measured: CPU, cores, Python."""
    cpu = _cpu() or platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
