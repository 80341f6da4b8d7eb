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
  passes:
    description:
      - With O(run=start), how many bulk passes at most; O(run=follow) starts the next while the last changed
        more than O(until_items) entries.
    type: int
    default: 1
  phase:
    description: Which pass (see the description).
    type: str
    choices: [bulk, final, proof]
    required: true
  run:
    description:
      - C(wait) runs the pass and returns its result.
      - C(start) starts the pass in the background (detached from this connection, its output, progress and
        exit code kept in O(work_dir)) and returns at once; C(follow) returns its progress
        (RV(rackwright_progress)) while it runs, and its result, as C(wait) would, once it ended
        (RV(finished)).
        A long copy is followed by a task that repeats C(follow) until RV(finished), so the run's progress
        page can show the copy's real progress and an estimate of its end.
    type: str
    choices: [wait, start, follow]
    default: wait
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
  until_items:
    description: With O(passes) above 1, a bulk pass that changed at most this many entries is the last.
    type: int
    default: 0
  work_dir:
    description: A directory on this host for a background pass's files. Required with O(run=start) and
      O(run=follow); C(start) empties it first.
    type: path
notes:
  - Supports check mode (bulk and final passes become rsync dry runs).
  - C(start) and C(follow) add C(--info=progress2 --no-inc-recursive) to rsync, whose whole-pass percentage
    is the progress reported.
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

- name: The same passes in the background, followed every 5 s (the progress page shows the copy's progress)
  rackwright.infra.data_sync:
    phase: bulk
    run: start
    work_dir: /var/lib/rackwright/migration/copy
    passes: 5
    until_items: 50
    src: /srv/data
    dest: /srv/data
    dest_host: 10.77.0.12
    ssh_key: /var/lib/rackwright/migration/id_ed25519
    known_hosts: /var/lib/rackwright/migration/known_hosts

- name: Follow the bulk passes
  rackwright.infra.data_sync:
    src: /srv/data
    dest: /srv/data
    phase: bulk
    run: follow
    work_dir: /var/lib/rackwright/migration/copy
    passes: 5
    until_items: 50
  register: bulk
  until: bulk.finished
  retries: 17280
  delay: 5
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
finished:
  description: Whether the pass (with O(run=follow), the last of the passes) ended. Always true with C(wait).
  returned: always
  type: bool
passes:
  description: How many passes ran (bulk passes repeat while a pass changed more than O(until_items)).
  returned: always
  type: int
rackwright_progress:
  description:
    - "While a background pass runs: C({percent, what}), its whole-pass percentage and a line saying which
      pass, how far and how fast (read by the rackwright.infra.progress callback)."
  returned: with O(run=follow) before RV(finished)
  type: dict
"""

import contextlib
import json
import os
import shlex
import shutil
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
        # (sh: the wrapper of a background pass, which would write its exit code after rsync was stopped)
        named = os.path.basename(argv[0]) in (b"rsync", b"ssh", b"sh")
        if named and any(key.encode() in arg for arg in argv):
            found.append(int(entry))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in found):
            time.sleep(0.2)
    return found


def _write_json(path, data):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def _read(path, tail=None):
    try:
        with open(path, "rb") as handle:
            if tail:
                handle.seek(max(0, os.path.getsize(path) - tail))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def start_pass(module, work_dir, argv, number, earlier):
    """Start pass NUMBER of ARGV in the background, in its own session (it outlives this module and its
    connection), in its own directory under WORK_DIR (a pass an interrupted run left going cannot write into
    the next one's files); the exit code lands in <pass>/rc once rsync ended."""
    directory = os.path.join(work_dir, f"pass-{number}")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    detached = 'LC_ALL=C "$@" >out 2>err; echo $? >rc.tmp && mv rc.tmp rc'
    script = f'cd "$1" && shift && setsid sh -c {shlex.quote(detached)} data_sync "$@"'
    script += " </dev/null >/dev/null 2>&1 &"
    rc, _out, err = module.run_command(["sh", "-c", script, "data_sync", directory, *argv])
    if rc != 0:
        module.fail_json(msg=f"data_sync: starting the pass in the background failed: {err.strip()[-300:]}")
    _write_json(os.path.join(work_dir, "state.json"), {"pass": number, "earlier": earlier})


def pass_result(phase, rc, stdout, stderr, began=None):
    parsed = rsync.parse(rsync.without_progress(stdout), stderr)
    ok, message = rsync.judge(phase, rc, parsed, stderr)
    result = dict(
        phase=phase,
        message=message,
        item_count=len(parsed["items"]),
        items=parsed["items"][:200],
        stats=parsed["stats"],
        vanished=parsed["vanished"],
        rc=rc,
        changed=bool(parsed["items"]) and phase != "proof",
    )
    if began is not None:
        result["elapsed_s"] = round(time.monotonic() - began, 2)
    return ok, result


def pass_name(params, number):
    """A pass's name on the progress page; it stays the same while the pass runs (the estimate follows it)."""
    bounded = params["phase"] == "bulk" and params["passes"] > 1
    return f"{params['phase']} pass {number}" + (f" of at most {params['passes']}" if bounded else "")


def follow(module, argv):
    """The background passes' progress, or the last pass's result once the passes ended."""
    params = module.params
    work_dir = params["work_dir"]
    state = json.loads(_read(os.path.join(work_dir, "state.json")) or "null")
    if not isinstance(state, dict):
        module.fail_json(msg=f"data_sync: no pass was started in {work_dir} (run=start first)", finished=True)
    number = state["pass"]
    directory = os.path.join(work_dir, f"pass-{number}")
    rc = _read(os.path.join(directory, "rc"))
    common = dict(passes=number, stopped_earlier=state.get("earlier", []))
    if rc is None:
        seen = rsync.progress(_read(os.path.join(directory, "out"), tail=4096) or "")
        what = pass_name(params, number)
        said = f"{seen['percent']}% ({seen['bytes']} bytes, {seen['rate']})" if seen else "listing the files"
        module.exit_json(
            changed=False, finished=False, phase=params["phase"], message=f"{what}: {said}", **common,
            rackwright_progress={"percent": seen["percent"] if seen else 0, "what": what},
        )  # fmt: skip
    ok, result = pass_result(
        params["phase"], int(rc.strip() or 255), _read(os.path.join(directory, "out")) or "",
        _read(os.path.join(directory, "err")) or "",
    )  # fmt: skip
    again = (
        ok
        and params["phase"] == "bulk"
        and number < params["passes"]
        and result["item_count"] > params["until_items"]
    )
    if again:
        start_pass(module, work_dir, argv, number + 1, state.get("earlier", []))
        said = f"bulk pass {number} changed {result['item_count']} entries: pass {number + 1} started"
        module.exit_json(
            changed=False, finished=False, phase=params["phase"], message=said, **common,
            rackwright_progress={"percent": 0, "what": pass_name(params, number + 1)},
        )  # fmt: skip
    result.update(common, finished=True, changed=result["changed"] or number > 1)
    if not ok:
        module.fail_json(msg=f"data_sync: {result['message']}", **result)
    module.exit_json(**result)


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
            run=dict(type="str", default="wait", choices=["wait", "start", "follow"]),
            work_dir=dict(type="path"),
            passes=dict(type="int", default=1, no_log=False),
            until_items=dict(type="int", default=0),
        ),
        required_by={"dest_host": ("ssh_key",)},
        required_if=[("run", "start", ("work_dir",)), ("run", "follow", ("work_dir",))],
        supports_check_mode=True,
    )
    params = module.params
    if params["passes"] < 1:
        module.fail_json(msg=f"data_sync: passes must be 1 or more, got {params['passes']}")
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
        progress=params["run"] != "wait",
    )
    if module.check_mode and params["phase"] != "proof":
        argv.insert(1, "--dry-run")
    if params["run"] == "follow":
        follow(module, argv)
    stopped = stop_earlier_copies(params["ssh_key"]) if params["dest_host"] and not module.check_mode else []
    if params["run"] == "start":
        work_dir = params["work_dir"]
        os.makedirs(work_dir, mode=0o700, exist_ok=True)
        for entry in os.listdir(work_dir):  # an earlier start's passes (stopped above)
            if entry.startswith("pass-"):
                shutil.rmtree(os.path.join(work_dir, entry), ignore_errors=True)
        start_pass(module, work_dir, argv, 1, stopped)
        module.exit_json(
            changed=False, finished=False, phase=params["phase"], passes=1, stopped_earlier=stopped,
            message=f"{params['phase']} pass 1 started in the background ({work_dir})",
        )  # fmt: skip
    began = time.monotonic()
    rc, stdout, stderr = module.run_command(argv, environ_update={"LC_ALL": "C"})
    ok, result = pass_result(params["phase"], rc, stdout, stderr, began)
    result.update(stopped_earlier=stopped, finished=True, passes=1)
    if not ok:
        module.fail_json(msg=f"data_sync: {result['message']}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
