#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module data_sync: copy a tree to another host with rsync, in the bulk, final or proof pass of a
server replacement."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: data_sync
short_description: Copy a service's data to another host with rsync (bulk, final or proof pass)
description:
  - Runs rsync on this host (the old server), copying the contents of O(src) into O(dest) on O(dest_host) over
    SSH, host to host (the data never passes through the controller), or into a local O(dest) without
    O(dest_host). Owners and groups (numeric ids), modes, ACLs, xattrs, hard links, sparse files and times are
    kept (C(-aHAXS --numeric-ids), times compared to the nanosecond) and what the source no longer has is
    deleted on the destination.
  - "O(phase): C(bulk) while the service is live (files that vanish while rsync reads the tree, rsync exit 24,
    are expected and listed in RV(vanished)); C(final) after the freeze (exit 24 now fails: something still
    writes); C(proof) a checksum dry run after the final pass that must find nothing (every item it finds is a
    difference and fails the task)."
  - Fails with rsync's exit code in words and its last error line; RV(items) lists what the pass changed (or,
    in check mode and for C(proof), would change).
  - A copy that an interrupted run left behind (an rsync still running with O(ssh_key), its controller gone)
    is stopped first, so two passes never write to the destination at once (RV(stopped_earlier)).
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
options:
  bwlimit:
    description: Bandwidth limit in KiB/s (rsync C(--bwlimit)), so a bulk pass on a live server leaves room.
    type: int
  dest:
    description: The directory on O(dest_host) (as the SSH side sees it), or a local directory.
    type: str
    required: true
  dest_host:
    description: The destination's address on the LAN. Left out, O(dest) is a local path.
    type: str
  excludes:
    description: rsync exclude patterns (relative to O(src)).
    type: list
    elements: str
    default: []
  known_hosts:
    description: A known_hosts file with O(dest_host)'s host key; the key is checked strictly, never learnt.
    type: path
  phase:
    description: Which pass (see the description).
    type: str
    choices: [bulk, final, proof]
    required: true
  src:
    description: The directory whose contents are copied (on this host).
    type: path
    required: true
  ssh_key:
    description: The private key for O(dest_host), meant for this copy only. Required with O(dest_host).
    type: path
  ssh_user:
    description: The user rsync logs in as on O(dest_host).
    type: str
    default: root
notes:
  - Supports check mode (bulk and final passes become rsync dry runs).
  - Needs rsync on both hosts; run as root to keep owners and every attribute. The manifest that proves the
    copy is M(rackwright.infra.data_manifest)'s.
"""

EXAMPLES = r"""
- name: Bulk pass while the service is live
  rackwright.infra.data_sync:
    src: /srv/data
    dest: /srv/data
    dest_host: 10.77.0.12
    ssh_key: /var/lib/rackwright/migration/id_ed25519
    known_hosts: /var/lib/rackwright/migration/known_hosts
    phase: bulk
  register: bulk
  until: bulk.item_count <= 50
  retries: 5
  delay: 0
"""

RETURN = r"""
phase:
  description: The pass run.
  returned: always
  type: str
message:
  description: What the pass did, or why it failed, in one sentence.
  returned: always
  type: str
item_count:
  description: Number of itemized changes (files, directories, links, deletions, attribute changes).
  returned: always
  type: int
items:
  description: "The first 200 itemized changes, C({code, path}) (rsync's C(%i) code, e.g. C(>f+++++++++))."
  returned: always
  type: list
  elements: dict
stats:
  description: rsync's --stats (files, created, deleted, files_transferred, total_bytes, bytes_transferred).
  returned: always
  type: dict
vanished:
  description: Source files that vanished during the pass (bulk passes only accept them).
  returned: always
  type: list
  elements: str
rc:
  description: rsync's exit code.
  returned: always
  type: int
elapsed_s:
  description: Seconds the pass took.
  returned: always
  type: float
stopped_earlier:
  description: Process ids of a copy with the same key that an interrupted run left running, stopped first.
  returned: always
  type: list
  elements: int
"""

import contextlib
import os
import shlex
import signal
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_rsync as rsync


def rsh(params):
    """The --rsh command for the destination: its own key, strict host key checking, no agent, no prompt."""
    ssh = ["ssh", "-i", params["ssh_key"], "-l", params["ssh_user"], "-o", "BatchMode=yes"]
    ssh += ["-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=15"]
    if params["known_hosts"]:
        ssh += ["-o", f"UserKnownHostsFile={params['known_hosts']}"]
    return shlex.join(ssh)


def stop_earlier_copies(key):
    """Stop the rsync and ssh processes of an earlier pass that used KEY (its run was killed, the copy went
    on): SIGTERM, then SIGKILL after 10 s. Returns their process ids."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (os.getpid(), os.getppid()):
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if os.path.basename(argv[0]) in (b"rsync", b"ssh") and any(key.encode() in arg for arg in argv):
            found.append(int(entry))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in found):
            time.sleep(0.2)
    return found


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", required=True),
            dest=dict(type="str", required=True),
            dest_host=dict(type="str"),
            ssh_user=dict(type="str", default="root"),
            ssh_key=dict(type="path", no_log=False),
            known_hosts=dict(type="path"),
            phase=dict(type="str", required=True, choices=list(rsync.PHASES)),
            excludes=dict(type="list", elements="str", default=[]),
            bwlimit=dict(type="int"),
        ),
        required_by={"dest_host": ("ssh_key",)},
        supports_check_mode=True,
    )
    params = module.params
    if not os.path.isdir(params["src"]):
        module.fail_json(msg=f"data_sync: src {params['src']} is not a directory on this host")
    binary = module.get_bin_path("rsync")
    if not binary:
        module.fail_json(msg="data_sync: rsync is not installed on this host (apt install rsync)")
    destination = f"{params['dest_host']}:{params['dest']}" if params["dest_host"] else params["dest"]
    argv = rsync.command(
        params["phase"],
        params["src"],
        destination,
        rsh=rsh(params) if params["dest_host"] else None,
        excludes=params["excludes"],
        bwlimit=params["bwlimit"],
        rsync=binary,
    )
    if module.check_mode and params["phase"] != "proof":
        argv.insert(1, "--dry-run")
    stopped = stop_earlier_copies(params["ssh_key"]) if params["dest_host"] and not module.check_mode else []
    began = time.monotonic()
    rc, stdout, stderr = module.run_command(argv, environ_update={"LC_ALL": "C"})
    parsed = rsync.parse(stdout, stderr)
    ok, message = rsync.judge(params["phase"], rc, parsed, stderr)
    result = dict(
        phase=params["phase"],
        message=message,
        item_count=len(parsed["items"]),
        items=parsed["items"][:200],
        stats=parsed["stats"],
        vanished=parsed["vanished"],
        rc=rc,
        elapsed_s=round(time.monotonic() - began, 2),
        stopped_earlier=stopped,
        changed=bool(parsed["items"]) and params["phase"] != "proof",
    )
    if not ok:
        module.fail_json(msg=f"data_sync: {message}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
