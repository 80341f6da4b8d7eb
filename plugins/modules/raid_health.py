#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module raid_health: state of Linux md, Broadcom/LSI (storcli/perccli) and HPE Smart Array RAID."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: raid_health
short_description: Judge RAID array health (Linux md, storcli/perccli, HPE ssacli)
description:
  - Reads C(/proc/mdstat) (enriched with C(mdadm --detail) when mdadm is installed), C(storcli64 /call show
    all J)
    plus C(/call/eall/sall show all J) (storcli, storcli64, perccli, perccli64) and
    C(ssacli ctrl all show config detail) (ssacli, hpssacli, hpacucli), whichever are present.
  - Alternatively parses saved outputs given in O(from_files); the format of each file is detected
    (C(/proc/mdstat), C(mdadm --detail), storcli/perccli JSON or text, ssacli text) or forced with O(format).
  - "Verdicts: md degraded without recovery, FAILED or inactive arrays are critical; rebuilding, resync and
    reshape are warnings (with C(rebuild_percent)); a running check (scrub) is ok; a faulty member of a
    full array warns; inactive IMSM/DDF containers are normal. storcli VD Dgrd/OfLn and PD
    Offln/UBad/Failed/Msng
    are critical, Pdgd/Rec/Rbld, drive media/other/predictive errors, SMART alerts, BBU/CacheVault and foreign
    configurations warn. ssacli C(array X (Failed)), logical drive Failed or Interim Recovery Mode are
    critical,
    rebuilding and cache/battery status other than OK warn."
  - A failing storcli command that still returns data is recorded in the controller's C(messages) only.
  - A missing tool gives health C(unknown) with the reason; the module never fails for it.
  - A degraded md array whose replacement is already added and whose recovery only waits (C(resync=DELAYED)
    or C(PENDING)) behind another array's rebuild is a queued rebuild (warning, state C(rebuilding)), as
    check_raid rates it.
  - "Output that cannot vouch for the arrays gives C(unknown) with the reason: an md array of a redundant
    level without its C([n/m] [UU]) status (cut off; a cut C([2/1] [U) still counts as degraded), an mdstat
    with neither arrays nor its C(unused devices:) line, a storcli answer without controllers or data, an
    ssacli controller header without status, arrays or drives, or text no RAID tool wrote."
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
extends_documentation_fragment:
  - rackwright.infra.from_files
options:
  format:
    description:
      - Which source to read. C(auto) reads every source found (live) or detects each file's format.
    type: str
    choices: [auto, mdstat, mdadm, storcli, ssacli]
    default: auto
  mdadm_detail:
    description: When reading /proc/mdstat live, also run C(mdadm --detail) for each array (needs root).
    type: bool
    default: true
notes:
  - Needs root for storcli/ssacli/mdadm. Tools run with C(LC_ALL=C); storcli with C(nolog).
  - Supports check mode; the module never changes anything.
seealso:
  - module: rackwright.infra.disk_health
"""

EXAMPLES = r"""
- name: Check all RAID arrays on the host
  raid_health:
  register: raid

- name: Only the Smart Array controller
  raid_health:
    format: ssacli

- name: Judge saved outputs
  raid_health:
    from_files:
      - /var/tmp/mdstat.txt
      - /var/tmp/storcli-call-show-all.json
  delegate_to: localhost

- name: Show what needs a technician
  ansible.builtin.debug:
    msg: "{{ raid.reasons }}"
  when: raid.health in ['warning', 'critical']
"""

RETURN = r"""
health:
  description: Worst health of arrays, controllers and drives (C(ok), C(unknown), C(warning), C(critical)).
  returned: always
  type: str
  sample: critical
reasons:
  description: All reasons, prefixed with the array, controller or drive name.
  returned: always
  type: list
  elements: str
  sample: ["md0: degraded: 1 of 3 members missing [U_U]", "md0: member sdc1 faulty"]
arrays:
  description: One entry per md array, storcli virtual drive or Smart Array logical drive.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Array name (C(md0), C(/c0/v0), C(Smart Array P410 in Slot 1 / array A / logicaldrive 1)).
      type: str
    level:
      description:
        - RAID level as the tool prints it (C(raid1), C(RAID6), C(RAID 1+0)); C(container) for IMSM/DDF.
      type: str
    state:
      description:
        - One of C(optimal), C(degraded), C(rebuilding), C(resyncing), C(checking), C(reshaping), C(failed),
          C(inactive).
      type: str
    rebuild_percent:
      description: Progress of rebuild/resync/reshape in percent, null when none is running or not reported.
      type: float
    members:
      description:
        - Member devices with their state (C(active), C(spare), C(faulty), C(rebuilding), C(removed), or the
          controller's own word such as C(Onln)).
      type: list
      elements: dict
    health:
      description: Health of this array.
      type: str
    reasons:
      description: Why the array is not ok; empty when ok.
      type: list
      elements: str
rackwright_progress:
  description:
    - While an array rebuilds, resyncs or reshapes, the least advanced one's percentage and what it is; the
      progress callback turns successive answers into an estimate of the end.
  returned: when an array rebuilds, resyncs or reshapes with a known percentage
  type: dict
  sample: {"percent": 43.2, "what": "md127 rebuild"}
controllers:
  description: Hardware RAID controllers (storcli, ssacli) with status, health and reasons.
  returned: always
  type: list
  elements: dict
drives:
  description:
    - Physical drives known to hardware RAID controllers, with state, error counters, health and reasons.
  returned: always
  type: list
  elements: dict
sources:
  description: What was read (commands run or files parsed).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_check_raid import SPEC, run


def main():
    run(AnsibleModule(**SPEC))


if __name__ == "__main__":
    main()
