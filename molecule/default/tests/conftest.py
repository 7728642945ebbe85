"""Fixtures of the full-stack scenario: the shared ones from vmstack_testlib, and the order."""

import pytest

from vmstack_testlib.fixtures import (  # noqa: F401 - pytest finds fixtures by name
    admin_token,
    http,
    https,
    molecule_inventory,
    vault,
)

RUN_LAST = "test_data_survives_a_rerun_and_no_secret_is_printed"
RELEASE_STORY = "test_release.py"
SERVICES_STORY = "test_services.py"


def pytest_collection_modifyitems(items):
    """Run the backup/restore round trip after the other checks: restore.yml stops
    and restarts the app, and those check the stack as a converge left it. The
    -vvv re-run comes next, so its changed=0 also covers a converge right after a
    restore (the restarted app must not look like a new release). The release story
    (test_release.py: v1 -> v2 -> broken v3 -> rollback -> rotated secrets, each test
    building on the one before) goes very last: it changes the live release and the
    secrets the other checks expect. It shares this scenario's instance and converge
    instead of creating its own (that saved a create, prepare and converge: ~6 min).
    The services story (test_services.py: the frontend released under load, then rolled
    back) comes right before the backup round trip, so the restore and the re-run's
    changed=0 cover a stack whose extra service has been released and rolled back."""
    items.sort(
        key=lambda item: (
            item.fspath.basename == RELEASE_STORY,
            # item.name carries testinfra's host id, e.g. "...[ansible://vmstack-default]"
            getattr(item, "originalname", item.name) == RUN_LAST,
            item.fspath.basename == "test_backup.py",
            item.fspath.basename == SERVICES_STORY,
        )
    )


_story_failure: dict[str, str] = {}  # story file -> its first failed test


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    story = item.fspath.basename
    if story in (RELEASE_STORY, SERVICES_STORY) and report.failed and story not in _story_failure:
        _story_failure[story] = item.name


def pytest_runtest_setup(item):
    """A story's step after a failed one would test a state nobody expects."""
    story = item.fspath.basename
    if story in _story_failure:
        pytest.fail(f"not run: {story} stopped at {_story_failure[story]}")
