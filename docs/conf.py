"""Sphinx configuration for fer-classifier."""

import os
import sys

# Documentation builds never need TensorFlow's startup chatter.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.abspath("../src"))

from fer_classifier import __version__  # noqa: E402

project = "fer-classifier"
author = "fer-classifier developers"
copyright = "2026, fer-classifier developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
templates_path = ["_templates"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
html_theme_options = {
    "description": "Facial emotion recognition, scikit-learn style",
    # Room for 90-column code blocks and the wide benchmark tables.
    "page_width": "1160px",
    "body_max_width": "none",
}

# Offline builds: intersphinx inventories are not fetched (no network at build time),
# so cross-references to NumPy/scikit-learn render as plain text.
intersphinx_mapping = {}
nitpicky = False
