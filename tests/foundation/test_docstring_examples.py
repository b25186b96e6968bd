"""Every example in a docstring of the package (``>>>``) gives what it says it gives.

The examples are how a reader learns what a function does; one that no longer holds misleads. The
suite's own folders are the test paths, so the package's examples run here, one test a module.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import keepclear

#: Alembic's migration environment runs only inside alembic (it reads ``alembic.context.config``).
NOT_IMPORTABLE_ALONE = ("keepclear.store.migrations",)


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(keepclear.__path__, "keepclear."):
        if info.name.startswith(NOT_IMPORTABLE_ALONE):
            continue
        module = importlib.import_module(info.name)
        if any(test.examples for test in doctest.DocTestFinder().find(module)):
            names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_the_package_has_examples_to_run() -> None:
    assert len(MODULES) >= 20, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str) -> None:
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
    assert attempted and not failed, f"{failed} of the {attempted} examples in {name} do not hold (printed above)"
