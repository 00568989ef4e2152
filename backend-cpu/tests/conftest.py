import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # for cpu_helpers under any pytest import mode

import os
import tempfile

# Tuning choices made by the tests go to a throw-away cache, never the user's ~/.cache/mnn.
os.environ.setdefault("MNN_CPU_CACHE_DIR", tempfile.mkdtemp(prefix="mnn-cpu-tuning-"))
