#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module evidence_collect: a suspect host's evidence, read-only, sealed with SHA256SUMS."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: evidence_collect
short_description: Collect a suspect host's evidence read-only and seal it, or take its binaries' baseline
description:
  - With O(mode=collect), reads in order of volatility (RFC 3227) the processes (their executables read from
    C(/proc), deleted ones flagged), the sockets (C(/proc/net), each with its process), addresses and routes,
    logged-in users and recent and failed logins, kernel modules, users, groups, the accounts' password state
    (no hashes), sudoers, every account's SSH authorized keys, cron, systemd unit files and timers, rc files
    and C(ld.so.preload), which package owns each of those files, files changed recently in system paths, the
    sha256 of every file in the executable directories, C(dpkg --verify), the authentication log and the
    journal.
  - Each piece is a numbered file of a bundle, with C(acquisition.json) (when each was read, from what, its
    exit code and sha256) and C(SHA256SUMS) over all of them, packed into one tar archive next to the bundle
    directory, which is then removed. Fetch the archive and delete it (the incident role does both); the
    module changes nothing else on the host.
  - With O(mode=baseline), returns the manifest of the executable directories and the text of every
    persistence file (cron, systemd units, rc files, sudoers), the trusted baseline the controller keeps.
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
options:
  mode:
    description: C(collect) the evidence, or take the C(baseline) of the executable directories.
    type: str
    choices: [collect, baseline]
    default: collect
  temp_dir:
    description: Where the bundle and its archive are written (a directory that exists, on the host).
    type: path
    default: /var/tmp
  recent_days:
    description: How many days back "recently changed files" and the journal reach.
    type: int
    default: 7
notes:
  - Supports check mode (it only reads; the archive is its own temporary file). Run it as root.
  - A root-level intruder can lie to any program on the host, this one included; the sealed bundle records
    what the host said, and the findings compare it with what the controller holds.
seealso:
  - module: rackwright.infra.data_manifest
"""

EXAMPLES = r"""
- name: Collect the evidence
  rackwright.infra.evidence_collect:
  register: evidence
"""

RETURN = r"""
archive:
  description: The tar archive of the bundle on the host (mode collect).
  returned: mode collect
  type: str
archive_sha256:
  description: The archive's sha256.
  returned: mode collect
  type: str
sha256sums:
  description: The bundle's SHA256SUMS text.
  returned: mode collect
  type: str
acquisition:
  description: One row per evidence file, C({file, what, started, finished, rc, bytes, sha256}).
  returned: mode collect
  type: list
  elements: dict
entries:
  description: The manifest entries of the executable directories (rackwright_manifest), paths absolute.
  returned: mode baseline
  type: list
  elements: dict
files:
  description: Each persistence file's text (a symlink as C(-> target)), by absolute path.
  returned: mode baseline
  type: dict
"""

import os
import shutil
import tarfile
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_security as security
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_manifest import file_sha256


def _runner(module):
    def run(argv):
        if not module.get_bin_path(argv[0]):
            return 127, f"{argv[0]}: not installed on this host\n"
        rc, out, err = module.run_command(argv, errors="surrogate_or_replace")
        return rc, out + (err if rc else "")

    return run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", choices=["collect", "baseline"], default="collect"),
            temp_dir=dict(type="path", default="/var/tmp"),
            recent_days=dict(type="int", default=7),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["mode"] == "baseline":
        try:
            module.exit_json(
                changed=False,
                entries=security.binaries(),
                files=security.persistence_files(),
                roots=list(security.BINARY_ROOTS),
            )
        except security.EvidenceError as exc:
            module.fail_json(msg=f"evidence_collect: cannot take the baseline: {exc}")
    if params["recent_days"] < 1:
        module.fail_json(msg=f"evidence_collect: recent_days must be at least 1, got {params['recent_days']}")
    if not os.path.isdir(params["temp_dir"]):
        module.fail_json(
            msg=f"evidence_collect: temp_dir {params['temp_dir']} is not a directory on the host"
        )
    bundle = tempfile.mkdtemp(prefix="rackwright-evidence-", dir=params["temp_dir"])
    archive = bundle + ".tar"
    try:
        log = security.collect(bundle, _runner(module), recent_days=params["recent_days"])
        with open(os.path.join(bundle, "SHA256SUMS"), encoding="utf-8") as handle:
            sums = handle.read()
        with tarfile.open(archive, "w") as tar:
            for name in sorted(os.listdir(bundle)):
                tar.add(os.path.join(bundle, name), arcname=name)
        digest = file_sha256(archive)
    except OSError as exc:
        shutil.rmtree(bundle, ignore_errors=True)
        if os.path.exists(archive):
            os.unlink(archive)
        module.fail_json(msg=f"evidence_collect: cannot write the bundle under {params['temp_dir']}: {exc}")
    shutil.rmtree(bundle, ignore_errors=True)
    module.exit_json(changed=False, archive=archive, archive_sha256=digest, sha256sums=sums, acquisition=log)


if __name__ == "__main__":
    main()
