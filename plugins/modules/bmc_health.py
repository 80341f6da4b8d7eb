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

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import Verdict
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_ipmitool import parse_ipmi
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_module import (
    FROM_FILES_SPEC,
    MAX_INPUT_BYTES,
    finish,
    parse_safely,
    parse_saved_files,
    run_tool,
    tool_failed,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_redfish import (
    parse_redfish,
    resource_sensors,
)

EXPECTED = "ipmitool sdr/sdr elist/sensor/sel elist, FreeIPMI ipmi-sensors/ipmi-sel or Redfish JSON output"


def parse_saved(text, path, fmt):
    """``{"sensors", "events", "sel_read"}`` of one saved output."""
    if fmt == "redfish" or (fmt == "auto" and text.lstrip().startswith(("{", "["))):
        return {"sensors": parse_redfish(text, path), "events": [], "sel_read": False}
    parsed = parse_ipmi(text, path)
    parsed["sel_read"] = parsed["format"] in ("sel", "freeipmi-sel")
    return parsed


def from_files(result, saved):
    for path, parsed, problem in saved:
        if problem is not None:
            result["unknown"].append(problem)
            continue
        result["sensors"].extend(parsed["sensors"])
        result["events"].extend(parsed["events"])
        result["sel_read"] = result["sel_read"] or parsed["sel_read"]
        result["sources"].append(path)


def ipmitool(module, result):
    binary = module.get_bin_path("ipmitool")
    if not binary:
        result["unknown"].append("ipmitool not found in PATH: install ipmitool")
        return
    base = [binary]
    environ = {}
    params = module.params
    if params["host"]:
        base += ["-I", params["interface"], "-C", str(params["cipher_suite"]), "-H", params["host"]]
        base += ["-p", str(params["port"])]
        if params["username"]:
            base += ["-U", params["username"]]
        if params["password"] is not None:
            base.append("-E")
            environ["IPMI_PASSWORD"] = params["password"]
    target = params["host"] or "local BMC"
    queries = [("sdr", "elist")] + ([("sel", "elist")] if params["sel"] else [])
    for query in queries:
        rc, out, err = run_tool(module, base + list(query), environ)
        source = "ipmitool {} ({})".format(" ".join(query), target)
        if "|" not in out and query[0] == "sel" and rc == 0 and "SEL has no entries" in out + err:
            result["sel_read"] = True  # ipmitool writes this line to stderr
            result["sources"].append(source)
            continue
        if "|" not in out:
            result["unknown"].append(tool_failed(source, rc, out, err))
            return
        parsed, problem = parse_safely("ipmitool", source, "ipmitool output", parse_ipmi, out, source)
        if problem is not None:
            result["unknown"].append(problem)
            return
        result["sensors"].extend(parsed["sensors"])
        result["events"].extend(parsed["events"])
        result["sel_read"] = result["sel_read"] or query[0] == "sel"
        result["sources"].append(source)


def redfish(module, result):
    params = module.params
    base = params["redfish_url"].rstrip("/")

    def get(path):
        url = path if path.startswith("http") else base + path
        response = open_url(
            url,
            method="GET",
            headers={"Accept": "application/json"},
            url_username=params["username"],
            url_password=params["password"],
            force_basic_auth=params["username"] is not None,
            validate_certs=params["validate_certs"],
            timeout=params["timeout"],
        )
        body = response.read(MAX_INPUT_BYTES + 1)
        if len(body) > MAX_INPUT_BYTES:
            raise ValueError(f"{url} answered more than {MAX_INPUT_BYTES} bytes")
        return url, json.loads(body)

    def link(doc, key, url):
        """The @odata.id of doc[key]; a malformed answer raises ValueError naming the URL and field."""
        if not isinstance(doc, dict):
            raise ValueError(f"{url} answered {type(doc).__name__}, expected a JSON object")
        value = doc.get(key)
        if value is None:
            return None
        target = value.get("@odata.id") if isinstance(value, dict) else None
        if not isinstance(target, str):
            raise ValueError(f'{url}: \'{key}\' is {value!r}, expected {{"@odata.id": "/redfish/v1/..."}}')
        return target

    try:
        root_url, root = get("/redfish/v1/")
        link(root, "Systems", root_url)
        resources = []
        for collection in ("Systems", "Chassis"):
            target = link(root, collection, root_url)
            if not target:
                continue
            members_url, members = get(target)
            rows = members.get("Members", []) if isinstance(members, dict) else None
            if not isinstance(rows, list):
                raise ValueError(f"{members_url}: 'Members' is {rows!r}, expected a list of links")
            for index in range(len(rows)):
                url, doc = get(link({"m": rows[index]}, "m", f"{members_url} Members[{index}]"))
                resources.append((url, doc))
                for child in ("Thermal", "Power"):
                    child_link = link(doc, child, url) if collection == "Chassis" else None
                    if child_link:
                        resources.append(get(child_link))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UrlConnectionError) as exc:
        result["unknown"].append(f"Redfish request to {base} failed: {exc}")
        return
    for url, doc in resources:
        sensors, problem = parse_safely("redfish", url, "a Redfish resource", resource_sensors, doc, url)
        if problem is not None:
            result["unknown"].append(problem)
            continue
        result["sensors"].extend(sensors)
        result["sources"].append(url)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            format=dict(type="str", default="auto", choices=["auto", "ipmitool", "freeipmi", "redfish"]),
            from_files=FROM_FILES_SPEC,
            host=dict(type="str"),
            port=dict(type="int", default=623),
            interface=dict(type="str", default="lanplus"),
            cipher_suite=dict(type="int", default=3),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            sel=dict(type="bool", default=True),
            sel_affects_health=dict(type="bool", default=True),
            redfish_url=dict(type="str"),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=30),
        ),
        mutually_exclusive=[("from_files", "host"), ("from_files", "redfish_url"), ("host", "redfish_url")],
        supports_check_mode=True,
    )
    result = {"sensors": [], "events": [], "sources": [], "unknown": [], "sel_read": False}
    saved = parse_saved_files(module, "bmc_health", EXPECTED, parse_saved, module.params["format"])
    if saved is not None:
        from_files(result, saved)
    elif module.params["redfish_url"]:
        redfish(module, result)
    else:
        ipmitool(module, result)

    verdict = Verdict()
    for reason in result.pop("unknown"):
        verdict.add("unknown", reason)
    for sensor in result["sensors"]:
        if sensor["present"]:
            verdict.absorb(sensor)
    if module.params["sel_affects_health"]:
        for event in result["events"]:
            verdict.absorb(event)
    # An empty SEL ("SEL has no entries") is a real answer; no sensor and no SEL read at all is not.
    if (
        not result["sensors"]
        and not result["events"]
        and not result.pop("sel_read")
        and verdict.health == "ok"
    ):
        verdict.add("unknown", "no sensors or events found")
    result.pop("sel_read", None)
    finish(module, verdict, **result)


if __name__ == "__main__":
    main()
