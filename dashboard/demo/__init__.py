"""Demo data, out of the production app's request path: only ``seed_demo`` and the tests
import it.

- ``documents``: realistic workflow states turned into log documents by the shipper's builder.
- ``seed``: ``demo_seed``, which stores them through the collector's services on an empty
  database, with logins and an API key.
"""

from dashboard.demo.seed import DemoSeedResult, demo_seed

__all__ = ["DemoSeedResult", "demo_seed"]
