"""The pure core: no AWS, HTTP, Chalice or Powertools import (tests/unit/test_core_purity.py)."""
