"""fer-classifier: facial emotion recognition with a Keras 3 CNN and a scikit-learn API.

Importing this package does not import Keras or TensorFlow; they are loaded
the first time a model is built or read.
"""

from ._version import __version__
from .datasets import EMOTIONS, get_data_home, load_fer2013, make_synthetic_faces
from .distillation import distillation_targets
from .estimator import EmotionCNNClassifier
from .faces import FaceCropper
from .ferplus import FERPLUS_EMOTIONS, load_ferplus
from .kdef import load_kdef
from .photos import detect_emotions, draw_emotions
from .transformers import PixelStringTransformer
from .video import draw_video_emotions, read_video, video_emotions

__all__ = [
    "EMOTIONS",
    "FERPLUS_EMOTIONS",
    "EmotionCNNClassifier",
    "FaceCropper",
    "PixelStringTransformer",
    "__version__",
    "detect_emotions",
    "distillation_targets",
    "draw_video_emotions",
    "draw_emotions",
    "get_data_home",
    "load_fer2013",
    "load_ferplus",
    "load_kdef",
    "make_synthetic_faces",
    "read_video",
    "video_emotions",
]
