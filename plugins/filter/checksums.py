"""Filter ``sha256sum_checksums``: the checksums ``sha256sum`` printed, in a given order.

The ``app`` role fingerprints a release from several files on the host. One
``sha256sum`` run reads them all in one round trip (a ``stat`` per file costs one
module execution each, about a third of a second on a small host); this filter puts
its output back in the order the fingerprint uses, ``""`` for a file that is missing
(the same value ``stat`` gave), so the fingerprint of an unchanged host is the same.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: sha256sum_checksums
short_description: Checksums from sha256sum's output, in the order of the given names
description:
  - Reads lines C(<hex>  <name>) (text mode) or C(<hex> *<name>) (binary mode) and
    returns the checksum of each name in O(names), C("") where a name has no line
    (sha256sum could not read that file).
positional: _input, names
options:
  _input:
    description: sha256sum's standard output.
    type: str
    required: true
  names:
    description: The file names, as they were given to sha256sum.
    type: list
    elements: str
    required: true
"""


def sha256sum_checksums(stdout: str, names: list[str]) -> list[str]:
    found: dict[str, str] = {}
    for line in str(stdout).splitlines():
        digest, sep, rest = line.partition(" ")
        # A line starting with a backslash is an escaped (unusual) name: not one of ours.
        if not sep or len(digest) != 64 or digest.startswith("\\"):
            continue
        name = rest[1:] if rest[:1] in (" ", "*") else rest
        found[name] = digest
    return [found.get(str(name), "") for name in names]


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"sha256sum_checksums": sha256sum_checksums}
