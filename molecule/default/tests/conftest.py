"""Fixtures of the full-stack scenario: the shared ones from vmstack_testlib, and the order."""

from vmstack_testlib.fixtures import (  # noqa: F401 - pytest finds fixtures by name
    admin_token,
    http,
    https,
    molecule_inventory,
    vault,
)

RUN_LAST = "test_data_survives_a_rerun_and_no_secret_is_printed"


def pytest_collection_modifyitems(items):
    """Run the backup/restore round trip after the other checks: restore.yml stops
    and restarts the app, and those check the stack as a converge left it. The
    -vvv re-run goes very last, so its changed=0 also covers a converge right
    after a restore (the restarted app must not look like a new release)."""
    items.sort(
        key=lambda item: (
            # item.name carries testinfra's host id, e.g. "...[ansible://vmstack-default]"
            getattr(item, "originalname", item.name) == RUN_LAST,
            item.fspath.basename == "test_backup.py",
        )
    )
