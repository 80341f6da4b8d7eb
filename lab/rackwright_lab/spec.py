"""Load and validate a lab spec (lab/spec/*.yml); errors name the VM and the field."""

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rackwright_lab.util import REPO_ROOT, LabError

DEFAULT_SPEC = REPO_ROOT / "lab" / "spec" / "default.yml"
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
SIZE_RE = re.compile(r"^[1-9][0-9]*[MG]$")
BUSES = ("virtio", "sata", "nvme")
BMC_TYPES = ("extern", "builtin")


@dataclass
class Disk:
    """A data disk: virtio (RAID/LVM), sata (SMART via AHCI) or nvme."""

    name: str
    bus: str
    size: str
    serial: str
    model: str = ""


@dataclass
class Nic:
    """A NIC on the lab network with its static address (ip/prefix), or none (left to the network role)."""

    name: str
    ip: str = ""
    service_ip: str = (
        ""  # a second address: the service address a server replacement moves (lab service data)
    )


@dataclass
class Bmc:
    """An IPMI BMC: ipmi_sim behind ipmi-bmc-extern ('extern') or QEMU's ipmi-bmc-sim ('builtin')."""

    type: str
    user: str


@dataclass
class Vm:
    """One lab VM."""

    name: str
    memory: int
    cpus: int
    groups: list[str]
    vendor: str
    serial: str
    sample_data: bool
    disks: list[Disk] = field(default_factory=list)
    nics: list[Nic] = field(default_factory=list)
    bmc: Bmc | None = None
    services: list[str] = field(default_factory=list)


@dataclass
class Spec:
    """A whole lab."""

    path: Path
    name: str
    site: str
    rack: str
    subnet: str
    vms: list[Vm]


# field -> (type, required, default)
TOP_FIELDS = {
    "name": (str, True, None),
    "site": (str, True, None),
    "rack": (str, True, None),
    "network": (dict, True, None),
    "defaults": (dict, False, {}),
    "vms": (list, True, None),
}
NETWORK_FIELDS = {"subnet": (str, True, None)}
DEFAULTS_FIELDS = {"memory": (int, False, 768), "cpus": (int, False, 1)}
VM_FIELDS = {
    "name": (str, True, None),
    "memory": (int, False, None),
    "cpus": (int, False, None),
    "groups": (list, True, None),
    "vendor": (str, False, "qemu"),
    "serial": (str, False, ""),
    "sample_data": (bool, False, False),
    "disks": (list, False, []),
    "nics": (list, True, None),
    "bmc": (dict, False, None),
    "services": (list, False, []),
}
DISK_FIELDS = {
    "name": (str, True, None),
    "bus": (str, True, None),
    "size": (str, True, None),
    "serial": (str, False, ""),
    "model": (str, False, ""),
}
NIC_FIELDS = {"name": (str, True, None), "ip": (str, False, ""), "service_ip": (str, False, "")}
# Lab services a VM can run for its peers (the package is in every image, its unit started only where listed).
SERVICES = {"dns": "dnsmasq.service", "ntp": "chrony.service", "data": "rackwright-lab-data.service"}
BMC_FIELDS = {"type": (str, True, None), "user": (str, False, "admin")}
TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a mapping"}


class SpecError(LabError):
    """A spec that does not validate."""


def _check(where: str, data, fields: dict) -> dict:
    """Check DATA (a mapping) against FIELDS: unknown keys, missing fields, types; fill defaults."""
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SpecError(f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(fields))})")
    out = {}
    for key, (typ, required, default) in fields.items():
        if key not in data or data[key] is None:
            if required:
                raise SpecError(f"{where}: missing required field '{key}'")
            out[key] = default
            continue
        value = data[key]
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise SpecError(f"{where}: field '{key}' must be {TYPE_NAMES[typ]}, got {value!r}")
        out[key] = value
    return out


def _name(where: str, value: str) -> str:
    if not NAME_RE.match(value):
        raise SpecError(f"{where}: name {value!r} must match {NAME_RE.pattern}")
    return value


def load_spec(path: Path | str | None = None) -> Spec:
    """Read and validate the spec at PATH (default lab/spec/default.yml)."""
    path = Path(path) if path else DEFAULT_SPEC
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SpecError(f"cannot read lab spec {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return parse_spec(data, path)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def parse_spec(data, path: Path = DEFAULT_SPEC) -> Spec:
    """Validate DATA (the parsed YAML) and return the Spec."""
    top = _check("spec", data, TOP_FIELDS)
    net = _check("network", top["network"], NETWORK_FIELDS)
    try:
        subnet = ipaddress.ip_network(net["subnet"])
    except ValueError:
        raise SpecError(f"network: subnet {net['subnet']!r} is not a network like 10.77.0.0/24") from None
    defaults = _check("defaults", top["defaults"], DEFAULTS_FIELDS)
    if not top["vms"]:
        raise SpecError("vms: the lab needs at least one VM")
    vms: list[Vm] = []
    ips: dict[str, str] = {}
    for i, raw in enumerate(top["vms"]):
        label = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else f"vms[{i}]"
        where = f"vm '{label}'"
        v = _check(where, raw, VM_FIELDS)
        _name(where, v["name"])
        if any(vm.name == v["name"] for vm in vms):
            raise SpecError(f"{where}: duplicate VM name")
        memory = v["memory"] or defaults["memory"]
        cpus = v["cpus"] or defaults["cpus"]
        if not 256 <= memory <= 16384:
            raise SpecError(f"{where}: field 'memory' must be 256..16384 (MiB), got {memory}")
        if not 1 <= cpus <= 8:
            raise SpecError(f"{where}: field 'cpus' must be 1..8, got {cpus}")
        for g in v["groups"]:
            if not isinstance(g, str) or not re.match(r"^[a-z][a-z0-9_]*$", g):
                raise SpecError(f"{where}: groups: {g!r} is not a valid Ansible group name")
        vm = Vm(
            name=v["name"],
            memory=memory,
            cpus=cpus,
            groups=list(v["groups"]),
            vendor=v["vendor"],
            serial=v["serial"] or f"LAB-{v['name'].upper()}",
            sample_data=v["sample_data"],
        )
        names: set[str] = set()
        for j, d in enumerate(v["disks"]):
            dwhere = f"{where}: disks[{j}]"
            d = _check(dwhere, d, DISK_FIELDS)
            _name(dwhere, d["name"])
            if d["bus"] not in BUSES:
                raise SpecError(f"{dwhere}: field 'bus' must be one of {', '.join(BUSES)}, got {d['bus']!r}")
            if not SIZE_RE.match(d["size"]):
                raise SpecError(f"{dwhere}: field 'size' must look like 512M or 2G, got {d['size']!r}")
            if d["model"] and d["bus"] != "sata":
                raise SpecError(f"{dwhere}: field 'model' is only for sata disks")
            serial = d["serial"] or f"{vm.name[:8]}-{d['name']}".upper()
            if len(serial) > 20:
                raise SpecError(f"{dwhere}: field 'serial' is longer than 20 characters")
            vm.disks.append(Disk(d["name"], d["bus"], d["size"], serial, d["model"]))
            names.add(d["name"])
        if not v["nics"]:
            raise SpecError(f"{where}: field 'nics' needs at least one NIC on the lab network")
        for j, n in enumerate(v["nics"]):
            nwhere = f"{where}: nics[{j}]"
            n = _check(nwhere, n, NIC_FIELDS)
            _name(nwhere, n["name"])
            if n["name"] == "mgmt0":
                raise SpecError(f"{nwhere}: name 'mgmt0' is reserved for the management NIC")
            if not n["ip"]:
                if j == 0:
                    raise SpecError(f"{nwhere}: the first NIC needs field 'ip' (the VM's lab address)")
                vm.nics.append(Nic(n["name"]))
                names.add(n["name"])
                continue
            try:
                iface = ipaddress.ip_interface(n["ip"])
            except ValueError:
                raise SpecError(
                    f"{nwhere}: field 'ip' must look like 10.77.0.11/24, got {n['ip']!r}"
                ) from None
            if iface.network != subnet:
                raise SpecError(f"{nwhere}: ip {n['ip']} is not in the lab subnet {subnet}")
            if str(iface.ip) in ips:
                raise SpecError(f"{nwhere}: ip {iface.ip} is already used by {ips[str(iface.ip)]}")
            ips[str(iface.ip)] = vm.name
            if n["service_ip"]:
                try:
                    if "/" not in n["service_ip"]:
                        raise ValueError("no prefix")
                    service = ipaddress.ip_interface(n["service_ip"])
                except ValueError:
                    raise SpecError(
                        f"{nwhere}: field 'service_ip' must look like 10.77.0.50/24, got {n['service_ip']!r}"
                    ) from None
                if service.network != subnet or str(service.ip) in ips:
                    raise SpecError(
                        f"{nwhere}: service_ip {n['service_ip']} is outside {subnet} or already used"
                    )
                ips[str(service.ip)] = vm.name
            vm.nics.append(Nic(n["name"], n["ip"], n["service_ip"]))
            names.add(n["name"])
        if len(names) != len(vm.disks) + len(vm.nics):
            raise SpecError(f"{where}: disk and NIC names must be unique within the VM")
        for service in v["services"]:
            if service not in SERVICES:
                raise SpecError(f"{where}: services: {service!r} is not one of {', '.join(SERVICES)}")
        vm.services = list(v["services"])
        if v["bmc"] is not None:
            b = _check(f"{where}: bmc", v["bmc"], BMC_FIELDS)
            if b["type"] not in BMC_TYPES:
                raise SpecError(f"{where}: bmc: field 'type' must be one of {', '.join(BMC_TYPES)}")
            vm.bmc = Bmc(b["type"], b["user"])
        vms.append(vm)
    return Spec(
        path=path,
        name=_name("spec", top["name"]),
        site=top["site"],
        rack=top["rack"],
        subnet=str(subnet),
        vms=vms,
    )
