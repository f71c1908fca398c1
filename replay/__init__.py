"""The offline replay server: djangopackages API v4, GitHub, PyPI, GitLab and Bitbucket on loopback, from a bundle."""

from pathlib import Path

SAMPLE_BUNDLE = Path(__file__).resolve().parent / "bundles" / "sample"
SOURCES = ("djangopackages", "github", "pypi", "gitlab", "bitbucket")
