#!/usr/bin/python3
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rackwright-network-switch: make the host's rackwright-managed network configuration that of one directory.

    rackwright-network-switch [--reason TEXT] DIR

DIR (written by the rackwright.infra.network_commit module) holds `manifest.json`
({"networkd": [file names], "ruleset": true|false}), the systemd-networkd files named there and, where the
ruleset is managed, `nftables.conf`. The switch:

1. replaces the files `NN-rackwright-*.network|.netdev` in /etc/systemd/network with DIR's (removing the
   managed ones DIR lacks) and /etc/nftables.conf with DIR's (a manifest with "ruleset_absent": true removes
   the file and the table inet rackwright: the host had no ruleset before);
2. deletes the bonds, VLANs and bridges whose .netdev went away (networkd never deletes a netdev itself);
3. `networkctl reload`, `networkctl reconfigure` of every interface whose files changed, `nft -f`;
4. writes /var/lib/rackwright/network/last-switch.json: what it did, why and what failed.

systemd-run starts it twice per change, both detached from the SSH session that asked for the change: once
to apply the new directory, and once, armed as a timer, to restore the snapshot of the previous configuration
unless a new SSH connection confirms the change first. It is the same code both ways, so a rollback is
exactly as good as an apply. Standard library only; it runs as root.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

NETWORKD = Path(os.environ.get("RACKWRIGHT_NETWORKD_DIR", "/etc/systemd/network"))
RULESET = Path(os.environ.get("RACKWRIGHT_RULESET", "/etc/nftables.conf"))
STATE = Path(os.environ.get("RACKWRIGHT_NETWORK_STATE", "/var/lib/rackwright/network"))
MANAGED = re.compile(r"[0-9]{2}-rackwright-[A-Za-z0-9_.-]+\.(network|netdev)")
TABLE = "rackwright"


def managed_files(directory):
    return {
        p.name: p.read_text() for p in sorted(directory.glob("*-rackwright-*")) if MANAGED.fullmatch(p.name)
    }


def key_values(text, section, key):
    """The values of KEY in [SECTION] of a systemd unit-style file."""
    values, current = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current == section and line.startswith(f"{key}="):
            values.append(line.split("=", 1)[1].strip())
    return values


def netdevs(files):
    return {
        name
        for fname, text in files.items()
        if fname.endswith(".netdev")
        for name in key_values(text, "NetDev", "Name")
    }


def interfaces(files):
    names = set()
    for fname, text in files.items():
        section = "NetDev" if fname.endswith(".netdev") else "Match"
        names.update(n for value in key_values(text, section, "Name") for n in value.split())
    return names


def run(argv, errors):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as error:  # the tool is missing: say so, go on with the rest
        errors.append(f"{' '.join(argv)}: {error.strerror}")
        return False
    if proc.returncode != 0:
        errors.append(f"{' '.join(argv)}: rc={proc.returncode} {(proc.stderr or proc.stdout).strip()[:400]}")
    return proc.returncode == 0


def write(path, text):
    tmp = path.with_name(f".{path.name}.rackwright-tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def switch(directory, reason):
    manifest = json.loads((directory / "manifest.json").read_text())
    errors = []
    before = managed_files(NETWORKD)
    after = {name: (directory / name).read_text() for name in manifest["networkd"]}
    NETWORKD.mkdir(parents=True, exist_ok=True)
    for name in sorted(set(before) - set(after)):
        (NETWORKD / name).unlink()
    for name, text in after.items():
        if before.get(name) != text:
            write(NETWORKD / name, text)
    changed = {n: t for n, t in {**before, **after}.items() if before.get(n) != after.get(n)}
    for gone in sorted(netdevs(before) - netdevs(after)):
        if Path("/sys/class/net", gone).exists():
            run(["ip", "link", "delete", gone], errors)
    run(["networkctl", "reload"], errors)
    present = sorted(n for n in interfaces(changed) if Path("/sys/class/net", n).exists())
    if present:
        run(["networkctl", "reconfigure", *present], errors)
    ruleset, files_changed = "unchanged", sorted(changed)
    old_ruleset = RULESET.read_text() if RULESET.is_file() else None
    if manifest.get("ruleset"):
        new_ruleset = (directory / "nftables.conf").read_text()
        write(RULESET, new_ruleset)
        ruleset = "loaded" if run(["nft", "-f", str(RULESET)], errors) else "failed"
        files_changed += [str(RULESET)] if new_ruleset != old_ruleset else []
    elif manifest.get("ruleset_absent"):
        RULESET.unlink(missing_ok=True)
        run(["nft", "delete", "table", "inet", TABLE], [])  # absent already is fine
        ruleset = "removed"
        files_changed += [str(RULESET)] if old_ruleset is not None else []
    report = {
        "id": manifest.get("id"),
        # seconds after boot: network_commit's confirmation must come over a connection opened after this
        "uptime": float(Path("/proc/uptime").read_text().split()[0]),
        "directory": str(directory),
        "action": directory.name,
        "reason": reason,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files_changed": files_changed,
        "interfaces_reconfigured": present,
        "ruleset": ruleset,
        "errors": errors,
        "ok": not errors,
    }
    STATE.mkdir(parents=True, exist_ok=True)
    write(STATE / "last-switch.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def main(argv):
    parser = argparse.ArgumentParser(prog="rackwright-network-switch", description=__doc__.splitlines()[0])
    parser.add_argument("--reason", default="apply", help="why (recorded in last-switch.json)")
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    if not (args.directory / "manifest.json").is_file():
        print(f"rackwright-network-switch: {args.directory}/manifest.json not found", file=sys.stderr)
        return 2
    report = switch(args.directory, args.reason)
    print(json.dumps(report, sort_keys=True))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
