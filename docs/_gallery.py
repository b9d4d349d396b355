"""sphinx-gallery helpers: where each example writes its files, and a scraper for them.

The examples write their images (annotated photos, report plots, a plot of
emotions over time) to an ``--out`` (or ``--annotate``) folder. ``example_argv``
gives each such example a fresh temporary folder; ``written_images`` moves the
images found there into the gallery after the example has run.
"""

import shutil
import tempfile
from pathlib import Path

OUTPUT = Path(tempfile.gettempdir()) / "fer_classifier_gallery"
OUTPUT_OPTION = {"photo.py": "--annotate", "evaluation_report.py": "--out",
                 "video.py": "--out", "onnx_export.py": "--out"}


def example_argv(gallery_conf, script_vars):
    name = Path(script_vars["src_file"]).name
    if name not in OUTPUT_OPTION:
        return []
    folder = OUTPUT / Path(name).stem
    shutil.rmtree(folder, ignore_errors=True)
    return [OUTPUT_OPTION[name], str(folder)]


def written_images(block, block_vars, gallery_conf):
    from sphinx_gallery.scrapers import figure_rst

    folder = OUTPUT / Path(block_vars["src_file"]).stem
    found = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".jpg"))
    paths = []
    for image in found:
        target = Path(next(block_vars["image_path_iterator"])).with_suffix(image.suffix)
        shutil.move(image, target)
        paths.append(str(target))
    return figure_rst(paths, gallery_conf["src_dir"])
