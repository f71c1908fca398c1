"""Settings: the one place that reads the environment.

Sources are configured only here: ``DPW_DJANGOPACKAGES_URL``, ``DPW_GITHUB_URL``, ``DPW_PYPI_URL``,
``GITHUB_TOKEN``, and the warehouse file ``DPW_WAREHOUSE``. The PyPI JSON API has no default: its address
is the user's to give, and without it PyPI enrichment is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DJANGOPACKAGES_URL = "https://djangopackages.org"
DEFAULT_GITHUB_URL = "https://api.github.com"
DEFAULT_WAREHOUSE = Path("data") / "warehouse.duckdb"


@dataclass(frozen=True)
class Settings:
    djangopackages_url: str = DEFAULT_DJANGOPACKAGES_URL
    github_url: str = DEFAULT_GITHUB_URL
    pypi_url: str | None = None
    github_token: str | None = field(default=None, repr=False)  # never printed
    warehouse: Path = DEFAULT_WAREHOUSE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            djangopackages_url=env.get("DPW_DJANGOPACKAGES_URL") or DEFAULT_DJANGOPACKAGES_URL,
            github_url=env.get("DPW_GITHUB_URL") or DEFAULT_GITHUB_URL,
            pypi_url=env.get("DPW_PYPI_URL") or None,
            github_token=env.get("GITHUB_TOKEN") or None,
            warehouse=Path(env.get("DPW_WAREHOUSE") or DEFAULT_WAREHOUSE),
        )

    def with_replay(self, base_url: str) -> Settings:
        """Every source pointed at one replay server."""
        return replace(self, djangopackages_url=base_url, github_url=base_url, pypi_url=base_url)

    def with_warehouse(self, path: str | Path | None) -> Settings:
        return self if path is None else replace(self, warehouse=Path(path))
