import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # for cpu_helpers under any pytest import mode
