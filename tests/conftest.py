import os
from pathlib import Path

from hypothesis import settings

FIXTURES = Path(__file__).parent / "fixtures"

settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
