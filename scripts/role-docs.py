#!/usr/bin/env python3
"""Renders every role's meta/argument_specs.yml into README.md (between markers).

scripts/role-docs.py          # rewrite the README section
scripts/role-docs.py --check  # exit 1 when the README is stale (run by `make lint`)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BEGIN = "<!-- BEGIN ROLE VARIABLES (scripts/role-docs.py) -->"
END = "<!-- END ROLE VARIABLES -->"
ROLE_ORDER = ["base", "docker", "nginx", "stack", "app", "backup"]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if text else '`""`'


def _describe(option: dict) -> str:
    description = option.get("description", "")
    if isinstance(description, list):
        description = " ".join(description)
    text = " ".join(str(description).split())
    # Ansible doc markup C(x), I(x), V(x) -> `x`
    return re.sub(r"\b[CIV]\(([^)]*)\)", r"`\1`", text).replace("|", "\\|")


def render() -> str:
    roles = sorted(
        (p.parent.parent.name for p in (REPO / "roles").glob("*/meta/argument_specs.yml")),
        key=lambda name: (ROLE_ORDER.index(name) if name in ROLE_ORDER else 99, name),
    )
    parts = [BEGIN, ""]
    for role in roles:
        specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for entry, spec in specs["argument_specs"].items():
            title = f"vmstack.deploy.{role}" + (
                "" if entry == "main" else f" (tasks_from: {entry})"
            )
            parts += [
                f"#### `{title}`",
                "",
                _describe({"description": spec["short_description"]}),
                "",
            ]
            parts += ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
            for name, option in spec.get("options", {}).items():
                kind = option.get("type", "str")
                if option.get("elements"):
                    kind += f" of {option['elements']}"
                if option.get("choices"):
                    kind += " (" + ", ".join(str(c) for c in option["choices"]) + ")"
                default = "**required**" if option.get("required") else _cell(option.get("default"))
                if option.get("no_log"):
                    default += " (secret)"
                parts.append(f"| `{name}` | {kind} | {default} | {_describe(option)} |")
            parts.append("")
    parts.append(END)
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when README.md is stale")
    args = parser.parse_args()
    text = README.read_text()
    if BEGIN not in text or END not in text:
        print(f"README.md lacks the markers {BEGIN} ... {END}", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + render() + tail
    if args.check:
        if new != text:
            print("README.md role variables are stale: run scripts/role-docs.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
