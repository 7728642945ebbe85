"""Fixtures of the upgrade scenario. Its tests run in file order, each on the one
before; every test takes testinfra's `host` fixture, because pytest moves tests
without that (module-scoped, parametrized) fixture after the ones with it."""

import pytest

from vmstack_testlib.fixtures import https  # noqa: F401 - pytest finds fixtures by name

_failed: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if outcome.get_result().failed and not _failed:
        _failed.append(item.name)


def pytest_runtest_setup(item):
    """A step after a failed one would test a state nobody expects."""
    if _failed:
        pytest.fail(f"not run: the upgrade stopped at {_failed[0]}")
