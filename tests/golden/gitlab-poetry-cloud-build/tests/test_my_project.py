from importlib.metadata import version

import pytest

import my_project


def test_greet_names_the_person() -> None:
    assert my_project.greet("Ada") == "Hello, Ada!"


def test_greet_ignores_surrounding_whitespace() -> None:
    assert my_project.greet("  Ada ") == "Hello, Ada!"


@pytest.mark.parametrize("name", ["", "   "])
def test_greet_rejects_an_empty_name(name: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        my_project.greet(name)


def test_version_comes_from_the_installed_metadata() -> None:
    assert my_project.__version__ == version("my-project")
