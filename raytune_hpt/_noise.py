"""TensorFlow's and Ray's start-up chatter kept off the user's console.

TensorFlow 2.21 prints, on every import, absl's "All log messages before
absl::InitializeLog()" notice, oneDNN's and the CPU-feature notices and, on a machine without
a GPU, "Could not find cuda drivers" -- from C++, straight to file descriptor 2, whatever
``TF_CPP_MIN_LOG_LEVEL`` says. :func:`import_tensorflow_quietly` imports TensorFlow with
descriptor 2 pointed at a temporary file and writes back every line that is not one of
those notices, so real warnings and errors still show; :func:`quietly` does the same for
any call (Ray's start, whose token-authentication notice no user can act on).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile
from collections.abc import Callable
from typing import Any

__all__ = ["NOISE", "import_tensorflow_quietly", "quietly"]

#: Lines TensorFlow prints at import that no user can act on.
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\)|oneDNN custom operations are on"
    r"|Could not find cuda drivers|failed call to cuInit|cpu_feature_guard"
    r"|This TensorFlow binary is optimized|To enable the following instructions"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered"
    r"|TF-TRT Warning"
    r"|Token authentication is enabled for this Ray cluster"  # Ray's start-up notice
)


def quietly(call: Callable[[], Any]) -> Any:
    """Run ``call`` with file descriptor 2 captured; write back all but the known notices."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            return call()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines()
                    if line.strip() and not NOISE.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (and Keras) once, dropping only its known start-up notices."""
    if "tensorflow" in sys.modules:
        return
    def load() -> None:
        tf = importlib.import_module("tensorflow")
        importlib.import_module("keras")
        tf.config.list_physical_devices("GPU")  # CUDA is probed now, under the capture

    quietly(load)
