#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module bmc_health: BMC sensors and event log via ipmitool or Redfish."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: bmc_health
short_description: Judge BMC sensors and the system event log (ipmitool, FreeIPMI, Redfish)
description:
  - Without O(redfish_url) runs C(ipmitool sdr elist) and C(ipmitool sel elist) against the local BMC
    (C(/dev/ipmi0)) or, with O(host), a remote BMC over C(-I lanplus). The password is handed to ipmitool
    through the C(IPMI_PASSWORD) environment variable (C(-E)), never on the command line.
  - With O(redfish_url) reads C(/redfish/v1) Systems and Chassis (with their Thermal and Power resources).
  - Alternatively parses saved outputs in O(from_files) - ipmitool C(sdr [e]list), C(sdr -v), C(sensor),
    C(sel [e]list), CSV (C(-c)), FreeIPMI C(ipmi-sensors)/C(ipmimonitoring)/C(ipmi-sel) tables, or Redfish
    JSON.
  - "Threshold sensors: status ok is ok, nc/lnc/unc warn, cr/lcr/ucr/nr/lnr/unr are critical. Discrete sensors
    (PSU, ECC, redundancy) keep C(ok) in the status column, so their state text is judged: C(Failure
    detected),
    C(AC lost), C(Uncorrectable ECC), C(IERR), C(Thermal Trip), C(Non-recoverable) are critical; C(Predictive
    failure), C(Redundancy degraded), C(Correctable ECC) warn. Sensors without a reading (ns, na, Disabled)
    are
    listed with health C(unknown) and do not affect the overall verdict."
  - "SEL: asserted events are judged by the same words; a later Deasserted event for the same sensor and
    description clears every earlier assertion of it. A chassis intrusion still asserted is critical; one
    deasserted later stays a warning until the SEL is cleared (confirm the opening was authorised). C(SEL has
    no entries) is a valid, healthy answer. FreeIPMI's Nominal/Warning/Critical state is used as is."
  - "Redfish: component Health OK/Warning/Critical (anything else is critical), State Absent skipped, readings
    checked against the resource's own thresholds."
  - A missing ipmitool, an unreachable BMC or a missing /dev/ipmi0 give health C(unknown) with the reason;
    so does a Redfish answer of the wrong shape (a list, HTML, a link or Status that is not an object), named
    with its URL and field. Redfish answers are read up to 8 MiB.
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
extends_documentation_fragment:
  - rackwright.infra.from_files
options:
  cipher_suite:
    description: IPMI cipher suite (C(-C)).
    type: int
    default: 3
  format:
    description: Format of O(from_files); C(auto) detects JSON as Redfish and text as ipmitool/FreeIPMI.
    type: str
    choices: [auto, ipmitool, freeipmi, redfish]
    default: auto
  host:
    description: Remote BMC address for ipmitool (C(-H)); local C(/dev/ipmi0) when omitted.
    type: str
  interface:
    description: ipmitool interface for remote BMCs (C(-I)).
    type: str
    default: lanplus
  password:
    description: BMC password for ipmitool (via C(IPMI_PASSWORD)) and Redfish.
    type: str
  port:
    description: Remote BMC RMCP+ port (C(-p)).
    type: int
    default: 623
  redfish_url:
    description: Base URL of the BMC's Redfish service, for example C(https://10.0.0.5).
    type: str
  sel:
    description: Also read the system event log.
    type: bool
    default: true
  sel_affects_health:
    description: Let active (not deasserted) SEL events count towards the overall health.
    type: bool
    default: true
  timeout:
    description: Redfish request timeout in seconds.
    type: int
    default: 30
  username:
    description: BMC user for ipmitool (C(-U)) and Redfish.
    type: str
  validate_certs:
    description: Validate the BMC's TLS certificate (BMCs usually ship self-signed ones).
    type: bool
    default: true
notes:
  - Needs root (or the ipmi device group) for the local BMC.
  - Supports check mode; the module never changes anything.
"""

EXAMPLES = r"""
- name: Local BMC sensors and SEL
  bmc_health:
  register: bmc

- name: Remote BMC over IPMI
  bmc_health:
    host: 10.0.0.5
    username: admin
    password: "{{ vault_bmc_password }}"
  delegate_to: localhost

- name: Redfish (iDRAC, iLO, Supermicro)
  bmc_health:
    redfish_url: https://10.0.0.5
    username: root
    password: "{{ vault_bmc_password }}"
    validate_certs: false
  delegate_to: localhost

- name: Judge saved outputs
  bmc_health:
    from_files:
      - /var/tmp/sdr-elist.txt
      - /var/tmp/redfish-thermal.json
  delegate_to: localhost
"""

RETURN = r"""
health:
  description: Worst health of present sensors and (with O(sel_affects_health)) active SEL events.
  returned: always
  type: str
  sample: critical
reasons:
  description: Reasons of every sensor and event that is not ok.
  returned: always
  type: list
  elements: str
  sample: ["PSU2 Status: failure detected"]
sensors:
  description: One entry per sensor or Redfish component.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Sensor name (generic discrete names get their entity, e.g. C(PSU2 Status)).
      type: str
    type:
      description: C(temperature), C(fan), C(voltage), C(power), C(current), C(power_supply), C(discrete), ...
      type: str
    reading:
      description: Numeric reading, null for discrete sensors.
      type: float
    unit:
      description: Unit of the reading.
      type: str
    status:
      description: Status column (ipmitool), Health (Redfish) as reported.
      type: str
    state:
      description: Discrete state text or Redfish State.
      type: str
    present:
      description: False for sensors without a reading (ns, na, Disabled).
      type: bool
    health:
      description: Health of this sensor.
      type: str
    reasons:
      description: Why the sensor is not ok; empty when ok.
      type: list
      elements: str
events:
  description:
    - SEL entries with C(id), C(date), C(time), C(sensor), C(description), C(direction), C(health),
      C(reasons).
  returned: always
  type: list
  elements: dict
sources:
  description: What was read (commands, URLs or files).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_check_bmc import SPEC, run


def main():
    run(AnsibleModule(**SPEC))


if __name__ == "__main__":
    main()
