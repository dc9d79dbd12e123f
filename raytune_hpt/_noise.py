"""TensorFlow's start-up chatter kept off the user's console.

TensorFlow 2.21 prints, on every import, absl's "All log messages before
absl::InitializeLog()" notice, oneDNN's and the CPU-feature notices and, on a machine without
a GPU, "Could not find cuda drivers" -- from C++, straight to file descriptor 2, whatever
``TF_CPP_MIN_LOG_LEVEL`` says. :func:`import_tensorflow_quietly` imports TensorFlow with
descriptor 2 pointed at a temporary file and writes back every line that is not one of
those notices, so real warnings and errors still show.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

__all__ = ["NOISE", "import_tensorflow_quietly"]

#: Lines TensorFlow prints at import that no user can act on.
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\)|oneDNN custom operations are on"
    r"|Could not find cuda drivers|failed call to cuInit|cpu_feature_guard"
    r"|This TensorFlow binary is optimized|To enable the following instructions"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered"
    r"|TF-TRT Warning"
)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (and Keras) once, dropping only its known start-up notices."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras  # noqa: F401  (imports TensorFlow, the noisy part)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode("utf-8", "replace")
    kept = [line for line in text.splitlines() if line.strip() and not NOISE.search(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
