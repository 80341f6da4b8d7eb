#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module systemd_units: systemd unit files written, stale ones gone, timers started, in one run."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: systemd_units
short_description: Install systemd units, remove stale ones and start the wanted ones, in one module run
description:
  - Writes each unit file whose content differs (atomically, root-owned, mode 0644), stops, disables and
    removes the unit files named in I(absent) or matched by I(absent_patterns) that are not wanted, reloads
    systemd once when a file changed, enables and starts I(started), and restarts a started unit whose own
    file changed (a timer then runs on its new calendar).
  - What a loop of template, file and systemd_service tasks does, in one round trip instead of three per unit;
    a run that finds every unit as wanted changes nothing and reads the units' state with one systemctl call.
author: rackwright contributors (!UNKNOWN)
version_added: "1.0.0"
options:
  units:
    description: The unit files to have, by file name (C(name.service), C(name.timer), ...).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The unit's file name, with its type suffix.
        type: str
        required: true
      content:
        description: The file's content.
        type: str
        required: true
  started:
    description:
      - Units to enable and start (timers, usually); each must be one of I(units) or already installed.
    type: list
    elements: str
    default: []
  absent:
    description: Unit file names to stop, disable and remove where present.
    type: list
    elements: str
    default: []
  absent_patterns:
    description:
      - Shell patterns of unit file names in I(unit_dir); a match that is not in I(units) or I(keep) is
        stopped, disabled and removed (the units of a job that no longer exists).
    type: list
    elements: str
    default: []
  keep:
    description: Unit file names that I(absent_patterns) never removes.
    type: list
    elements: str
    default: []
  unit_dir:
    description: Where the unit files are.
    type: path
    default: /etc/systemd/system
notes:
  - Supports check mode (what would be written, removed, started and restarted) and diff mode (each file).
"""

EXAMPLES = r"""
- name: Install the job units and start their timers
  rackwright.infra.systemd_units:
    units:
      - name: rackwright-backup-data.service
        content: "{{ lookup('ansible.builtin.template', 'job.service.j2') }}"
      - name: rackwright-backup-data.timer
        content: "{{ lookup('ansible.builtin.template', 'job.timer.j2') }}"
    started: [rackwright-backup-data.timer]
    absent_patterns: [rackwright-backup-*.timer, rackwright-backup-*.service]
"""

RETURN = r"""
written:
  description: Unit files written (or that would be, in check mode).
  returned: always
  type: list
  elements: str
removed:
  description: Unit files stopped, disabled and removed.
  returned: always
  type: list
  elements: str
started:
  description: Units enabled or started by this run (those that were not both already).
  returned: always
  type: list
  elements: str
restarted:
  description: Started units restarted because their file changed.
  returned: always
  type: list
  elements: str
"""

import fnmatch
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

SUFFIXES = (".service", ".timer", ".socket", ".path", ".mount", ".automount", ".target", ".slice")


def read(path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def file_diff(path, before, after):
    return {"before": before, "after": after, "before_header": path, "after_header": path}


def bad_name(name):
    """Why NAME is not a unit file name, or None."""
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        return f"{name!r} is not a unit file name (expected a name such as job.service, without a directory)"
    if not name.endswith(SUFFIXES):
        return f"{name!r} has no unit type suffix (expected one of {', '.join(SUFFIXES)})"
    return None


def systemctl(module, *args):
    rc, out, err = module.run_command(["systemctl", *args])
    if rc != 0:
        module.fail_json(
            msg=f"systemctl {' '.join(args)} failed (exit status {rc}): {(err or out).strip()[:500]}"
        )
    return out


def unit_states(module, names):
    """{name: (UnitFileState, ActiveState)} of NAMES, read with one systemctl call."""
    if not names:
        return {}
    out = systemctl(module, "show", "--property=Id,UnitFileState,ActiveState", "--", *names)
    states = {}
    for block in out.strip().split("\n\n"):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        states[fields.get("Id")] = (fields.get("UnitFileState", ""), fields.get("ActiveState", ""))
    unanswered = [n for n in names if n not in states]
    if unanswered:
        module.fail_json(msg=f"systemctl show did not describe {', '.join(unanswered)}: {out[:500]}")
    return states


def write(module, path, content):
    """CONTENT to PATH atomically, root-owned, mode 0644."""
    directory = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".rackwright-unit-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(content)
        os.chmod(temp, 0o644)
        if os.geteuid() == 0:
            os.chown(temp, 0, 0)
        module.atomic_move(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            units=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(name=dict(type="str", required=True), content=dict(type="str", required=True)),
            ),
            started=dict(type="list", elements="str", default=[]),
            absent=dict(type="list", elements="str", default=[]),
            absent_patterns=dict(type="list", elements="str", default=[]),
            keep=dict(type="list", elements="str", default=[]),
            unit_dir=dict(type="path", default="/etc/systemd/system"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    unit_dir = params["unit_dir"]
    want = {}
    problems = []
    for index, unit in enumerate(params["units"]):
        why = bad_name(unit["name"])
        if why:
            problems.append(f"units[{index}].name: {why}")
        elif unit["name"] in want:
            problems.append(f"units[{index}].name: {unit['name']} is given twice")
        want[unit["name"]] = unit["content"]
    for key in ("started", "absent", "keep"):
        problems += [f"{key}: {why}" for why in map(bad_name, params[key]) if why]
    clash = sorted(set(params["absent"]) & (set(want) | set(params["started"])))
    if clash:
        problems.append(f"absent: {', '.join(clash)} also wanted (units or started)")
    if problems:
        module.fail_json(msg="; ".join(problems))
    if not os.path.isdir(unit_dir):
        module.fail_json(msg=f"unit_dir: {unit_dir} is not a directory")

    written, diffs = [], []
    for name, content in want.items():
        path = os.path.join(unit_dir, name)
        before = read(path)
        if before != content:
            written.append(name)
            diffs.append(file_diff(path, before or "", content))
    present = sorted(os.listdir(unit_dir))
    stale = set(params["absent"]) & set(present)
    for pattern in params["absent_patterns"]:
        stale |= {n for n in fnmatch.filter(present, pattern) if n not in want and n not in params["keep"]}
    removed = sorted(stale)
    for name in removed:
        path = os.path.join(unit_dir, name)
        diffs.append(file_diff(path, read(path) or "", ""))

    if not module.check_mode:
        if removed:
            # stopped and disabled while systemd still knows them, then gone
            systemctl(module, "disable", "--now", "--", *removed)
            for name in removed:
                os.unlink(os.path.join(unit_dir, name))
        for name in written:
            write(module, os.path.join(unit_dir, name), want[name])
        if written or removed:
            systemctl(module, "daemon-reload")

    wanted = list(dict.fromkeys(params["started"]))
    missing = [n for n in wanted if n not in want and n not in present]
    if missing:
        module.fail_json(msg=f"started: {', '.join(missing)} neither in units nor installed in {unit_dir}")
    states = unit_states(module, wanted)
    to_enable = [n for n in wanted if states[n][0] != "enabled"]
    to_start = [n for n in wanted if states[n][1] != "active"]
    restart = [n for n in wanted if n in written and n not in to_start]
    if not module.check_mode:
        if to_enable:
            systemctl(module, "enable", "--", *to_enable)
        if to_start:
            systemctl(module, "start", "--", *to_start)
        if restart:
            systemctl(module, "restart", "--", *restart)
    started = sorted(set(to_enable) | set(to_start))
    result = dict(
        changed=bool(written or removed or started or restart),
        written=written,
        removed=removed,
        started=started,
        restarted=restart,
    )
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
