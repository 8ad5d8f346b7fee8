"""The acme_widgets package."""

from importlib.metadata import version

__all__ = ["__version__", "greet"]

__version__ = version("acme-widgets")


def greet(name: str) -> str:
    """Return a greeting for *name*.

    Raises:
        ValueError: if *name* is empty or only whitespace.
    """
    if not name.strip():
        msg = "name must not be empty"
        raise ValueError(msg)
    return f"Hello, {name.strip()}!"
