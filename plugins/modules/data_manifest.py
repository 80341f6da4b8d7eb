#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module data_manifest: a manifest of a directory tree (path, type, size, mode, owner, mtime, sha256,
link target, xattrs/ACLs, hard-link group), or the comparison of two manifests."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: data_manifest
short_description: Take a manifest of a directory tree, or compare two manifests both ways
description:
  - With O(path), walks the tree (never following a symlink) and writes one entry per path to O(dest) as JSON
    lines, sorted by path. Each entry has the path relative to O(path) (the root itself is C(.)), the type,
    mode, numeric owner and group, mtime in nanoseconds and the sha256 of every extended attribute (POSIX ACLs
    included); files add size, sha256 and their hard-link group, symlinks their target, devices their numbers.
  - Names with newlines or bytes that are not UTF-8 are escaped reversibly (C(%0A), C(%FF); C(%) is C(%25)),
    and files are matched by path, never by content, so a missing file is found even where an identical copy
    exists elsewhere.
  - O(cache) keeps the sha256 of each file by device, inode, size, mtime and ctime, so a repeated or
    interrupted manifest reads only the files that changed.
  - With O(compare), reads two manifest files on the machine where it runs and reports, both ways, the paths
    missing on the destination, the paths only on the destination and the paths whose fields differ.
  - Reading is all it does to the tree; the only file it writes is O(dest) (and O(cache)), which is a
    measurement, so it always reports C(changed=false). In check mode a manifest is taken but not written.
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
options:
  cache:
    description: A hash cache file (JSON) read before and written after; left out, every file is read.
    type: path
  compare:
    description: Two manifest files, source then destination, to compare instead of taking a manifest.
    type: list
    elements: path
  dest:
    description: Where to write the manifest (the directory must exist). Required with O(path).
    type: path
  ignore:
    description: Fields left out of the comparison (for example C(mtime_ns) for a tree copied without times).
    type: list
    elements: str
    default: []
    choices: [type, size, mode, uid, gid, mtime_ns, sha256, target, rdev, xattrs, link_group]
  limit:
    description: At most this many paths listed in each of RV(missing), RV(extra) and RV(differ).
    type: int
    default: 1000
  one_file_system:
    description: Do not descend into directories of another filesystem mounted below O(path).
    type: bool
    default: false
  path:
    description: The root of the tree to take the manifest of. Required unless O(compare) is given.
    type: path
  skip:
    description: Paths relative to O(path) left out with everything below them (for example C(lost+found)).
    type: list
    elements: str
    default: []
notes:
  - Supports check mode. Run as root to read every file and every extended attribute (C(trusted.*) needs it).
seealso:
  - module: rackwright.infra.data_sync
"""

EXAMPLES = r"""
- name: Take the manifest of the frozen data
  rackwright.infra.data_manifest:
    path: /srv/data
    dest: /var/lib/rackwright/migration/source.manifest
    cache: /var/lib/rackwright/migration/source.hashes

- name: Compare the two sides on the controller
  rackwright.infra.data_manifest:
    compare: [reports/migration/old-new/source.manifest, reports/migration/old-new/destination.manifest]
  delegate_to: localhost
  register: verification
"""

RETURN = r"""
entries:
  description: Number of entries (paths, the root included) in the manifest taken.
  returned: with path
  type: int
bytes:
  description: Total size of the regular files.
  returned: with path
  type: int
types:
  description: Number of entries of each type (file, dir, symlink, char, block, fifo, socket).
  returned: with path
  type: dict
sha256:
  description: The sha256 of the manifest file written (its seal), or null in check mode.
  returned: with path
  type: str
hash_cache:
  description: How many file hashes came from O(cache) (hits) and how many were read (misses).
  returned: with path
  type: dict
elapsed_s:
  description: Seconds taken.
  returned: always
  type: float
verified:
  description: True when both manifests hold the same paths with the same fields.
  returned: with compare
  type: bool
counts:
  description: source, destination, identical, missing, extra and differ counts.
  returned: with compare
  type: dict
missing:
  description: Paths in the source manifest only (escaped as in the manifest).
  returned: with compare
  type: list
  elements: str
extra:
  description: Paths in the destination manifest only.
  returned: with compare
  type: list
  elements: str
differ:
  description: "Paths whose fields differ: C({path, fields: {name: [source value, destination value]}})."
  returned: with compare
  type: list
  elements: dict
message:
  description: "One sentence for a technician: C(verified ...) or C(NOT verified ...) with the first paths."
  returned: with compare
  type: str
"""

import hashlib
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_manifest as manifest


def take(module):
    root, dest = module.params["path"], module.params["dest"]
    if not dest:
        module.fail_json(msg="data_manifest: dest is required with path (where to write the manifest)")
    if not os.path.isdir(os.path.dirname(dest) or "."):
        module.fail_json(msg=f"data_manifest: the directory of dest {dest} does not exist")
    cache = manifest.HashCache(None if module.check_mode else module.params["cache"])
    entries, summary = manifest.take(root, cache, module.params["one_file_system"], module.params["skip"])
    seal = None
    if not module.check_mode:
        tmp = f"{dest}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            manifest.write(handle, root, entries, summary)
        os.replace(tmp, dest)
        digest = hashlib.sha256()
        with open(dest, "rb") as handle:
            for block in iter(lambda: handle.read(manifest.CHUNK), b""):
                digest.update(block)
        seal = digest.hexdigest()
    return dict(
        entries=summary["entries"],
        bytes=summary["bytes"],
        types=summary["types"],
        hash_cache=summary["hash_cache"],
        sha256=seal,
        manifest=None if module.check_mode else dest,
    )


def compare(module):
    paths = module.params["compare"]
    if len(paths) != 2:
        module.fail_json(
            msg=f"data_manifest: compare takes two manifest files (source, destination), got {paths}"
        )
    # read() gives (header, entries, summary): the entries are what is compared.
    source, destination = (manifest.read(path)[1] for path in paths)
    result = manifest.compare(source, destination, module.params["ignore"], module.params["limit"])
    return dict(result, message=manifest.describe(result))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            dest=dict(type="path"),
            cache=dict(type="path"),
            one_file_system=dict(type="bool", default=False),
            skip=dict(type="list", elements="str", default=[]),
            compare=dict(type="list", elements="path"),
            ignore=dict(type="list", elements="str", default=[], choices=list(manifest.FIELDS)),
            limit=dict(type="int", default=1000),
        ),
        required_one_of=[("path", "compare")],
        mutually_exclusive=[("path", "compare")],
        supports_check_mode=True,
    )
    began = time.monotonic()
    try:
        result = compare(module) if module.params["compare"] else take(module)
    except manifest.ManifestError as exc:
        module.fail_json(msg=f"data_manifest: {exc}")
    module.exit_json(changed=False, elapsed_s=round(time.monotonic() - began, 2), **result)


if __name__ == "__main__":
    main()
