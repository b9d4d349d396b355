"""Sphinx configuration for fer-classifier."""

import os
import sys

# Documentation builds never need TensorFlow's startup chatter.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.abspath("../src"))

from fer_classifier import __version__  # noqa: E402
from fer_classifier._quiet import import_keras  # noqa: E402

# With TF_CPP_MIN_LOG_LEVEL set (above, or by CI), the library leaves
# TensorFlow's output alone, and its CUDA probe prints an error-level
# "failed call to cuInit" line on machines without a GPU. Import Keras once
# here with that probe muted; the API pages and gallery examples reuse it.
import_keras(quiet=True)

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
    "sphinx_gallery.gen_gallery",
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

# ------------------------------------------------------------------ example gallery
# sphinx-gallery runs each script of examples/ in its small mode and shows what it
# prints and the images it writes (see _gallery.py). Callables are named by string
# so that Sphinx can cache the configuration.
sys.path.insert(0, os.path.abspath("."))
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # The Dask example starts worker processes: shown, not run, in the docs.
    "filename_pattern": r"^((?!distributed_search).)*$",
    "reset_argv": "_gallery.example_argv",
    "image_scrapers": ("_gallery.written_images",),
    "abort_on_example_error": True,
    "download_all_examples": False,
    "min_reported_time": 10,
}
