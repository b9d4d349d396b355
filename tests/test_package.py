import subprocess
import sys

import fer_classifier


def test_version_is_exposed():
    from importlib.metadata import version

    assert fer_classifier.__version__ == version("fer-classifier")


def test_import_has_no_side_effects():
    code = (
        "import logging, sys\n"
        "before = (logging.getLogger().handlers[:], logging.getLogger().level)\n"
        "import fer_classifier\n"
        "heavy = [m for m in ('keras', 'tensorflow', 'torch', 'jax', 'matplotlib', 'cv2', "
        "'mtcnn', 'skimage') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert (logging.getLogger().handlers, logging.getLogger().level) == before\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_public_names():
    for name in fer_classifier.__all__:
        assert getattr(fer_classifier, name) is not None
    assert fer_classifier.EMOTIONS[3] == "Happy"
