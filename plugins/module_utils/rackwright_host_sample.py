# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's use for its history (evaluate_facts, health_sweep): the I/O side of rackwright_evaluate.sample."""

import os

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_evaluate as evaluate

LOCAL_FS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "f2fs", "zfs", "jfs", "reiserfs"}


def read_text(path):
    """PATH's text (bad bytes replaced), or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def local_mounts():
    """[{mount, size, used}] of the local filesystems of /proc/mounts, each mount point once, sorted."""
    out, seen = [], set()
    for line in (read_text("/proc/mounts") or "").splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[2] not in LOCAL_FS or parts[1] in seen:
            continue
        mount = parts[1].replace("\\040", " ")
        try:
            st = os.statvfs(mount)
        except OSError:
            continue
        seen.add(parts[1])
        size = st.f_blocks * st.f_frsize
        out.append({"mount": mount, "size": size, "used": size - st.f_bfree * st.f_frsize})
    return sorted(out, key=lambda m: m["mount"])


def take_sample():
    """This host's history sample now (memory, load, swap-out, filesystems)."""
    return evaluate.sample(
        read_text("/proc/meminfo"), read_text("/proc/loadavg"), read_text("/proc/vmstat"), local_mounts()
    )
