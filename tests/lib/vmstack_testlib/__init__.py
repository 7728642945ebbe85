"""vmstack's shared test helpers: the Molecule scenarios, tests/ and bench/ import them.

Importable because the repository's pytest configuration (pyproject.toml,
``[tool.pytest.ini_options] pythonpath``) and the bench wrappers put ``tests/lib`` on the
path. Modules: ``vault`` (read an inventory's vault), ``playbooks`` (run a playbook),
``api`` (curl through nginx inside an instance), ``load`` (the steady load generator,
stdlib only so it also runs inside a target) and ``fixtures`` (pytest fixtures built on them).
"""

from pathlib import Path

# tests/lib/vmstack_testlib/__init__.py -> the repository root
REPO = Path(__file__).resolve().parents[3]
