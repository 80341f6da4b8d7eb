# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bmc check of the bmc_health module, also run by health_sweep (one module run per host)."""

import json

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


# The module's options (hw_inventory, disk_health, ...: AnsibleModule(**SPEC)); health_sweep validates a
# check's options against the same SPEC.
SPEC = dict(
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


def run(module):
    """Run the check with MODULE's params and end MODULE with its result (finish)."""
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
