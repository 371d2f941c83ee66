import sys
from pathlib import Path

# Tests import the engine from this checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
