"""Warnings attributed to the user's line, not to the one inside the library that noticed."""

import os
import sys
import warnings

import joblib
import sklearn
import skorch
import torch

# skgebm and the libraries its calls run through (scikit-learn's fit decorator and
# search loops, joblib's cache, skorch's training loop, PyTorch's no_grad wrappers)
_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (__file__, joblib.__file__, sklearn.__file__, skorch.__file__, torch.__file__)
)


def warn(message, category):
    """Issue ``message`` as a warning of ``category`` at the innermost frame outside them.

    A fixed ``stacklevel`` names a line of a library whenever the warning arises more
    than one call below the user's (the trainer inside skorch's loop, the partition
    estimate inside :meth:`score_samples`). If every frame is theirs, the outermost
    is named.
    """
    frame, level = sys._getframe(0), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
