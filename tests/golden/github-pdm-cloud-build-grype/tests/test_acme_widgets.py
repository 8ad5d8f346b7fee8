from importlib.metadata import version

import pytest

import acme_widgets


def test_greet_names_the_person() -> None:
    assert acme_widgets.greet("Ada") == "Hello, Ada!"


def test_greet_ignores_surrounding_whitespace() -> None:
    assert acme_widgets.greet("  Ada ") == "Hello, Ada!"


@pytest.mark.parametrize("name", ["", "   "])
def test_greet_rejects_an_empty_name(name: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        acme_widgets.greet(name)


def test_version_comes_from_the_installed_metadata() -> None:
    assert acme_widgets.__version__ == version("acme-widgets")
