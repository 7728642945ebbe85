"""Filter ``docker_archive_image_id``: the image ID inside a ``docker save`` archive.

The ``docker`` role compares it with the ID of the image the host's engine has, so an
unchanged archive is neither copied again nor loaded (a checksum of a 200 MB file on
both ends costs seconds on every converge). Both archive layouts are understood: the
classic one (``manifest.json`` names ``<id>.json``) and the OCI one written by Docker
25 and later (``blobs/sha256/<id>``). Anything else gives ``""``, and the role then
falls back to copying the archive and letting the checksum decide.
"""

from __future__ import annotations

import json
import tarfile

DOCUMENTATION = r"""
name: docker_archive_image_id
short_description: The image ID (sha256:...) of the first image in a docker save archive
description:
  - Reads C(manifest.json) of the archive on the controller; returns C("") when the file
    is missing or is not a docker save archive.
positional: _input
options:
  _input:
    description: Path of the archive on the controller.
    type: path
    required: true
"""


def docker_archive_image_id(path: str) -> str:
    try:
        with tarfile.open(path, mode="r:") as archive:
            member = archive.extractfile("manifest.json")
            if member is None:
                return ""
            manifest = json.load(member)
    except (OSError, KeyError, ValueError, tarfile.TarError):
        return ""
    if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
        return ""
    config = str(manifest[0].get("Config", ""))
    digest = config.rsplit("/", 1)[-1].removesuffix(".json")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return ""
    return f"sha256:{digest}"


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"docker_archive_image_id": docker_archive_image_id}
