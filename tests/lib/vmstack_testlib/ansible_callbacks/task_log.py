"""Ansible callback: every task that starts and every result, as JSON lines.

The preflight matrix (molecule/default/tests/test_preflight.py) enables it with
ANSIBLE_CALLBACK_PLUGINS=<this directory>, ANSIBLE_CALLBACKS_ENABLED=task_log and
VMSTACK_TASK_LOG=<file>, to tell which tasks ran (by the file that defines them), which
failed and with what message, and whether any reported a change.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_log
type: notification
short_description: tasks and results as JSON lines (vmstack's tests)
description: Writes one JSON line per task start and per host result to $VMSTACK_TASK_LOG.
requirements: [VMSTACK_TASK_LOG set]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "task_log"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._path = os.environ.get("VMSTACK_TASK_LOG", "")

    def _write(self, record: dict) -> None:
        if self._path:
            with open(self._path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, default=str) + "\n")

    def _task(self, task) -> dict:
        return {
            "t": round(time.time(), 3),
            "task": task.get_name(),
            "action": task.action,
            "path": task.get_path() or "",
        }

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._write({"event": "start", **self._task(task)})

    def v2_playbook_on_handler_task_start(self, task) -> None:
        self._write({"event": "start", "handler": True, **self._task(task)})

    def _result(self, event: str, result) -> None:
        data = result._result
        self._write(
            {
                "event": event,
                **self._task(result._task),
                "changed": bool(data.get("changed")),
                "msg": str(data.get("msg", ""))
                if "failed" in event or event == "unreachable"
                else "",
            }
        )

    def v2_runner_on_ok(self, result) -> None:
        self._result("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._result("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_skipped(self, result) -> None:
        self._result("skipped", result)

    def v2_runner_on_unreachable(self, result) -> None:
        self._result("unreachable", result)

    def v2_runner_item_on_ok(self, result) -> None:
        self._result("item_ok", result)

    def v2_runner_item_on_failed(self, result) -> None:
        self._result("item_failed", result)
