#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module network_commit: apply systemd-networkd files and an nftables ruleset commit-confirmed."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: network_commit
short_description: Apply network files and a firewall ruleset with an automatic rollback unless confirmed
description:
  - Commit confirmed, as Junos does it. With O(state=applied) the module compares the managed
    systemd-networkd files (C(NN-rackwright-*.network|.netdev) in O(networkd_dir)) and the ruleset
    (O(ruleset_path)) with the wanted ones; in check mode it stops there and returns the diff.
  - On a change it snapshots the current configuration, arms a rollback that does not depend on the SSH
    session (a systemd timer, O(rollback_after) seconds, running C(rackwright-network-switch) on the snapshot)
    and applies the change detached (a second timer, O(apply_delay) seconds later, so this module's answer
    leaves the host first).
  - The caller then opens a NEW connection (C(meta reset_connection) and C(wait_for_connection); an open
    ControlPersist socket survives C(ct state established) and proves nothing) and calls O(state=confirmed),
    which checks that the apply finished cleanly and cancels the rollback. Without that call the host
    restores itself; O(state=status) then says what was rolled back and why.
  - A change networkd cannot make on a live interface (the kind of an existing link, a bond's mode, a VLAN's
    id) is refused with that reason before anything changes.
  - The ruleset is checked with C(nft -c) before anything changes.
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
options:
  apply_delay:
    description: Seconds between the module's answer and the apply.
    type: int
    default: 2
  confirm_wait:
    description: Seconds O(state=finished) and O(state=confirmed) wait for the detached apply to run.
    type: int
    default: 30
  hostname:
    description:
      - The host name, written to C(/etc/hostname) and set in the kernel with O(state=applied), at once (a
        name cuts no connection); omitted leaves both alone. No D-Bus needed (C(hostnamectl) needs it).
    type: str
  networkd_dir:
    description: Where the managed systemd-networkd files live.
    type: path
    default: /etc/systemd/network
  networkd_files:
    description:
      - The wanted managed files, as the C(rackwright.infra.networkd_files) filter returns them. Managed files
        in O(networkd_dir) not listed here are removed (and their bonds, VLANs and bridges deleted).
    type: list
    elements: dict
    default: []
  rollback_after:
    description: Seconds after O(state=applied) at which the host restores its previous configuration.
    type: int
    default: 90
  ruleset:
    description:
      - The wanted text of O(ruleset_path) (the C(rackwright.infra.nftables_ruleset) filter); omitted or
        null leaves the ruleset alone.
    type: str
  ruleset_path:
    description: The nftables file the ruleset is written to (loaded at boot by nftables.service).
    type: path
    default: /etc/nftables.conf
  state:
    description:
      - V(applied) stages the change and arms the rollback; V(finished) waits (up to O(confirm_wait)) until
        the detached apply has run and changes nothing; V(confirmed) cancels the rollback of a pending change
        after checking it applied cleanly and that this SSH connection was opened after it (a connection
        older than the change proves nothing and is refused); V(status) reports the last switch.
    type: str
    choices: [applied, finished, confirmed, status]
    default: applied
  state_dir:
    description: Where the snapshot (C(previous/)), the change (C(next/)) and C(last-switch.json) are kept.
    type: path
    default: /var/lib/rackwright/network
  switch:
    description: The C(rackwright-network-switch) program the timers run (installed by the network role).
    type: path
    default: /usr/local/sbin/rackwright-network-switch
notes:
  - Needs root, systemd (C(systemd-run)) and, for a ruleset, nftables.
  - Supports check mode and diff mode for O(state=applied); the other states change nothing in check mode.
"""

EXAMPLES = r"""
- name: Apply the network change (rolled back in 90 s unless confirmed)
  rackwright.infra.network_commit:
    networkd_files: "{{ network_interfaces | rackwright.infra.networkd_files }}"
    ruleset: "{{ network_firewall_rules | rackwright.infra.nftables_ruleset(network_firewall_admin_networks)
      }}"
  register: change

- name: Confirm over a new connection
  when: change.pending
  block:
    - name: Drop the old connection
      ansible.builtin.meta: reset_connection
    - name: Reconnect
      ansible.builtin.wait_for_connection:
        timeout: 45
    - name: Confirm
      rackwright.infra.network_commit:
        state: confirmed
"""

RETURN = r"""
pending:
  description: A change is applied (or about to be) and not yet confirmed; the rollback timer is armed.
  returned: always
  type: bool
files_changed:
  description: The managed files (and C(nftables.conf)) the change writes or removes.
  returned: always
  type: list
  elements: str
applied:
  description: The detached apply of the pending change has run (O(state=finished)).
  returned: when O(state=finished)
  type: bool
rollback_at:
  description: When the host restores its previous configuration unless confirmed (UTC, ISO 8601).
  returned: when O(state=applied) armed a rollback
  type: str
last_switch:
  description: C(last-switch.json), the switch that last ran, apply or rollback (directory, reason, time,
    files_changed, interfaces_reconfigured, ruleset, errors, ok); empty when none ran yet.
  returned: always
  type: dict
"""

import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

MANAGED = re.compile(r"[0-9]{2}-rackwright-[A-Za-z0-9_.-]+\.(network|netdev)")
ROLLBACK_UNIT = "rackwright-network-rollback"
APPLY_UNIT = "rackwright-network-apply"


def _managed(directory):
    if not directory.is_dir():
        return {}
    return {p.name: p.read_text() for p in sorted(directory.iterdir()) if MANAGED.fullmatch(p.name)}


def _section_value(text, section, key):
    current = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current == section and line.startswith(f"{key}="):
            return line.split("=", 1)[1].strip()
    return None


def _live_conflicts(module, files):
    """Changes networkd cannot make to a link that exists: its kind, a bond's mode, a VLAN's id."""
    rc, out, _err = module.run_command(["ip", "-j", "-d", "link", "show"])
    links = {}
    if rc == 0:
        try:
            links = {link["ifname"]: link.get("linkinfo", {}) for link in json.loads(out or "[]")}
        except (ValueError, KeyError, TypeError):
            links = {}
    problems = []
    for name, text in files.items():
        if not name.endswith(".netdev"):
            continue
        ifname, kind = _section_value(text, "NetDev", "Name"), _section_value(text, "NetDev", "Kind")
        if ifname not in links:
            continue
        info = links[ifname]
        live_kind, data = info.get("info_kind"), info.get("info_data") or {}
        mode, vid = _section_value(text, "Bond", "Mode"), _section_value(text, "VLAN", "Id")
        if live_kind and live_kind != kind:
            problems.append(f"{ifname} exists as a {live_kind} link and network_interfaces makes it a {kind}")
        elif kind == "bond" and data.get("mode") and data["mode"] != mode:
            problems.append(
                f"bond {ifname} runs in mode {data['mode']} and network_interfaces asks for {mode}"
            )
        elif kind == "vlan" and "id" in data and str(data["id"]) != vid:
            problems.append(f"VLAN {ifname} has id {data['id']} and network_interfaces asks for {vid}")
    return problems


def _write_dir(directory, files, ruleset, ruleset_absent=False):
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, mode=0o700)
    for name, text in files.items():
        (directory / name).write_text(text)
    if ruleset is not None:
        (directory / "nftables.conf").write_text(ruleset)
    manifest = {"networkd": sorted(files), "ruleset": ruleset is not None, "ruleset_absent": ruleset_absent,
                "id": f"{directory.name}-{time.time_ns()}"}  # fmt: skip
    (directory / "manifest.json").write_text(json.dumps(manifest, sort_keys=True) + "\n")


def _systemctl(module, *args):
    return module.run_command(["systemctl", *args])


def _pending(module):
    return _systemctl(module, "is-active", "--quiet", f"{ROLLBACK_UNIT}.timer")[0] == 0


def _last_switch(state_dir):
    try:
        return json.loads((state_dir / "last-switch.json").read_text())
    except (OSError, ValueError):
        return {}


def _diff(name, before, after):
    return {
        "before_header": name if before is not None else f"{name} (absent)",
        "after_header": name if after is not None else f"{name} (removed)",
        "before": before or "",
        "after": after or "",
    }


HOSTNAME = re.compile(r"(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?")


def _hostname_diff(module, name):
    """The diff setting the host name (file and kernel) to NAME makes, or None when it is NAME already."""
    if name is None:
        return None
    if not HOSTNAME.fullmatch(name):
        module.fail_json(msg=f"hostname '{name}' is not a host name (1 to 63 of [A-Za-z0-9-], no dot)")
    path = Path("/etc/hostname")
    before_file = path.read_text().strip() if path.is_file() else ""
    before = socket.gethostname()
    if before_file == name and before == name:
        return None
    return {"before_header": "host name", "after_header": "host name",
            "before": f"{before} (/etc/hostname: {before_file})\n", "after": f"{name}\n"}  # fmt: skip


def _set_hostname(module, name, diff):
    """Set it (outside check mode) once nothing refuses the run: a refusal must leave the host as it was."""
    if diff and not module.check_mode:
        Path("/etc/hostname").write_text(f"{name}\n")
        socket.sethostname(name)


def applied(module, p):
    networkd_dir, ruleset_path, state_dir = (
        Path(p["networkd_dir"]),
        Path(p["ruleset_path"]),
        Path(p["state_dir"]),
    )
    wanted = {}
    for index, item in enumerate(p["networkd_files"]):
        name, content = item.get("name"), item.get("content")
        if not isinstance(name, str) or not MANAGED.fullmatch(name) or not isinstance(content, str):
            module.fail_json(
                msg=f"networkd_files[{index}]: expected {{name: NN-rackwright-<interface>.network|.netdev, "
                f"content: text}}, got {item!r}"
            )
        wanted[name] = content
    live = _managed(networkd_dir)
    live_ruleset = ruleset_path.read_text() if ruleset_path.is_file() else None
    ruleset = p["ruleset"]
    diffs = [_diff(str(networkd_dir / n), live.get(n), wanted.get(n))
             for n in sorted(set(live) | set(wanted)) if live.get(n) != wanted.get(n)]  # fmt: skip
    if ruleset is not None and ruleset != live_ruleset:
        diffs.append(_diff(str(ruleset_path), live_ruleset, ruleset))
    changed_names = [d["after_header"].split(" ")[0] for d in diffs]
    renamed = _hostname_diff(module, p["hostname"])
    if renamed:
        diffs.append(renamed)
    pending = _pending(module)
    result = {"changed": bool(diffs), "pending": pending, "files_changed": changed_names,
              "last_switch": _last_switch(state_dir), "diff": diffs}  # fmt: skip
    if not changed_names:
        _set_hostname(module, p["hostname"], renamed)
        module.exit_json(**result)
    conflicts = _live_conflicts(module, wanted)
    if conflicts:
        module.fail_json(
            msg="refused, nothing was changed: systemd-networkd cannot make these changes to a live link: "
            + "; ".join(conflicts)
            + ". Delete the link in a maintenance window (ip link delete NAME, from the console or the BMC) "
            "or reboot with the new files, then run again.",
            **{k: v for k, v in result.items() if k != "changed"},
        )
    if ruleset is not None and shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        module.fail_json(
            msg="nft not found: install nftables (the network role does) before applying a ruleset"
        )
    if ruleset is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as tmp:
            tmp.write(ruleset)
        rc, _out, err = module.run_command(["nft", "-c", "-f", tmp.name])
        os.unlink(tmp.name)
        if rc != 0:
            module.fail_json(msg=f"refused, nothing was changed: nft -c rejects the ruleset: {err.strip()}")
    _set_hostname(module, p["hostname"], renamed)
    if module.check_mode:
        module.exit_json(**result)
    # An earlier change still waiting for confirmation keeps its snapshot: the last good configuration.
    if not pending or not (state_dir / "previous" / "manifest.json").is_file():
        _write_dir(state_dir / "previous", live, live_ruleset if ruleset is not None else None,
                   ruleset_absent=ruleset is not None and live_ruleset is None)  # fmt: skip
    _write_dir(state_dir / "next", wanted, ruleset)
    for unit in (ROLLBACK_UNIT, APPLY_UNIT):
        _systemctl(module, "stop", f"{unit}.timer", f"{unit}.service")
        _systemctl(module, "reset-failed", f"{unit}.timer", f"{unit}.service")
    python, switch = "/usr/bin/python3", p["switch"]
    reason = f"not confirmed over a new connection within {p['rollback_after']} s"
    arm = ["systemd-run", f"--unit={ROLLBACK_UNIT}", f"--on-active={p['rollback_after']}s",
           "--timer-property=AccuracySec=1s", "--description=rackwright: roll the network change back",
           python, switch, "--reason", reason, str(state_dir / "previous")]  # fmt: skip
    rc, _out, err = module.run_command(arm)
    if rc != 0:
        module.fail_json(msg=f"could not arm the rollback, nothing changed: {' '.join(arm)}: {err.strip()}")
    rollback_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + p["rollback_after"]))
    apply = ["systemd-run", f"--unit={APPLY_UNIT}", f"--on-active={p['apply_delay']}s",
             "--timer-property=AccuracySec=100ms", "--description=rackwright: apply the network change",
             python, switch, "--reason", "apply", str(state_dir / "next")]  # fmt: skip
    rc, _out, err = module.run_command(apply)
    if rc != 0:
        _systemctl(module, "stop", f"{ROLLBACK_UNIT}.timer")
        module.fail_json(msg=f"could not start the apply, nothing changed: {' '.join(apply)}: {err.strip()}")
    result.update(pending=True, rollback_at=rollback_at)
    module.exit_json(**result)


def _change_id(state_dir):
    try:
        return json.loads((state_dir / "next" / "manifest.json").read_text()).get("id")
    except (OSError, ValueError):
        return None


def _wait_for_apply(state_dir, seconds):
    """last-switch.json once the detached apply of the pending change has run (or as it is after SECONDS)."""
    change, deadline = _change_id(state_dir), time.monotonic() + seconds
    last = _last_switch(state_dir)
    while (last.get("id") != change or change is None) and time.monotonic() < deadline:
        time.sleep(1)
        last = _last_switch(state_dir)
    return last, change is not None and last.get("id") == change


def _ancestors():
    """[(pid, comm, ppid, start seconds after boot)] of this process and its ancestors, from /proc."""
    chain, pid, ticks = [], os.getpid(), os.sysconf("SC_CLK_TCK")
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        chain.append((pid, comm, int(fields[1]), int(fields[19]) / ticks))
        pid = int(fields[1])
    return chain


def connection_started():
    """When this SSH connection was opened (seconds after boot): the start of the sshd process that accepted
    it, the ancestor whose parent is sshd's listener (a child of pid 1). Multiplexed sessions (ControlPersist)
    share that process, so a session over an old connection shows the old time. None when not over SSH."""
    chain = _ancestors()
    comms = {pid: (comm, ppid) for pid, comm, ppid, _start in chain}
    for _pid, comm, ppid, start in chain:
        if comm == "sshd" and comms.get(ppid, ("", 0))[0] == "sshd" and comms[ppid][1] == 1:
            return start
    return None


def finished(module, p):
    """Wait (over whatever connection still works) until the host has run the apply; change nothing."""
    state_dir = Path(p["state_dir"])
    last, done = _wait_for_apply(state_dir, p["confirm_wait"])
    module.exit_json(
        changed=False, pending=_pending(module), applied=done, files_changed=[], last_switch=last
    )


def confirmed(module, p):
    state_dir = Path(p["state_dir"])
    if not _pending(module):
        module.exit_json(changed=False, pending=False, files_changed=[], last_switch=_last_switch(state_dir))
    if module.check_mode:
        module.exit_json(changed=True, pending=True, files_changed=[], last_switch=_last_switch(state_dir))
    last, done = _wait_for_apply(state_dir, p["confirm_wait"])
    opened = connection_started()
    if done and last.get("ok") and opened is not None and opened <= last.get("uptime", 0):
        module.fail_json(
            msg="not confirmed: this SSH connection was opened before the change was applied, so it proves "
            "nothing (close it: meta reset_connection); the rollback stays armed",
            pending=True, files_changed=[], last_switch=last, connection_opened=opened,
        )  # fmt: skip
    if not done or not last.get("ok"):
        why = "did not run" if not done else "; ".join(last.get("errors", []))
        _systemctl(module, "stop", f"{ROLLBACK_UNIT}.timer", f"{APPLY_UNIT}.timer")
        module.run_command(["/usr/bin/python3", p["switch"], "--reason", f"the apply failed: {why}",
                            str(state_dir / "previous")])  # fmt: skip
        module.fail_json(msg=f"the network change {why}: rolled back now to the previous configuration",
                         pending=False, files_changed=[], last_switch=_last_switch(state_dir))  # fmt: skip
    _systemctl(module, "stop", f"{ROLLBACK_UNIT}.timer")
    module.exit_json(
        changed=True, pending=False, files_changed=last.get("files_changed", []), last_switch=last
    )


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {
                "type": "str",
                "choices": ["applied", "finished", "confirmed", "status"],
                "default": "applied",
            },
            "networkd_files": {"type": "list", "elements": "dict", "default": []},
            "ruleset": {"type": "str"},
            "hostname": {"type": "str"},
            "rollback_after": {"type": "int", "default": 90},
            "apply_delay": {"type": "int", "default": 2},
            "confirm_wait": {"type": "int", "default": 30},
            "networkd_dir": {"type": "path", "default": "/etc/systemd/network"},
            "ruleset_path": {"type": "path", "default": "/etc/nftables.conf"},
            "state_dir": {"type": "path", "default": "/var/lib/rackwright/network"},
            "switch": {"type": "path", "default": "/usr/local/sbin/rackwright-network-switch"},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["rollback_after"] < 10 or p["apply_delay"] < 1 or p["confirm_wait"] < 1:
        module.fail_json(msg="rollback_after must be 10 s or more, apply_delay and confirm_wait 1 s or more")
    if p["state"] == "applied":
        applied(module, p)
    elif p["state"] == "finished":
        finished(module, p)
    elif p["state"] == "confirmed":
        confirmed(module, p)
    module.exit_json(changed=False, pending=_pending(module), files_changed=[],
                     last_switch=_last_switch(Path(p["state_dir"])))  # fmt: skip


if __name__ == "__main__":
    main()
