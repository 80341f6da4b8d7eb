"""Rackwright hardware lab: QEMU VMs with real disks, RAID, NICs and BMCs for the playbooks."""
