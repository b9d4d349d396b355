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


def machine():
    """One line describing where the figures were measured."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
