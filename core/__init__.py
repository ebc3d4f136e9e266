"""ECG-AIO Review science core: loading, ECG studio, page geometry, network, explanations.

Imports no Qt: the GUI (``app``) and the CLI call these same functions.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ecg-aio-review")  # the one place: pyproject.toml
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
