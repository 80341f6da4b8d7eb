"""Lab spec validation and the lab CLI's error handling (no VM is started)."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))

from rackwright_lab import inventory  # noqa: E402
from rackwright_lab.spec import DEFAULT_SPEC, SpecError, load_spec, parse_spec  # noqa: E402

BASE = yaml.safe_load(DEFAULT_SPEC.read_text())


def _spec(mutate) -> dict:
    data = copy.deepcopy(BASE)
    mutate(data)
    return data


def _vm(data: dict, name: str) -> dict:
    return next(vm for vm in data["vms"] if vm["name"] == name)


def test_default_spec_is_valid():
    spec = load_spec()
    assert [vm.name for vm in spec.vms] == ["old-server", "new-server", "backup-host"]
    new = spec.vms[1]
    assert sorted(d.bus for d in new.disks) == ["nvme", "sata", "virtio", "virtio"]
    assert new.bmc and new.bmc.type == "extern"
    assert spec.vms[0].sample_data
    # NICs after the first may have no address (the network role's); backup-host serves DNS and time.
    assert [(n.name, n.ip) for n in new.nics] == [("lan0", "10.77.0.12/24"), ("lan1", ""), ("lan2", "")]
    assert spec.vms[2].services == ["dns", "ntp"]
    # old-server runs the service a replacement moves, on its service address
    assert spec.vms[0].services == ["data"] and spec.vms[0].nics[0].service_ip == "10.77.0.50/24"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: _vm(d, "new-server").update(memroy=512), "vm 'new-server': unknown key 'memroy'"),
        (
            lambda d: _vm(d, "new-server")["disks"][1].pop("size"),
            "vm 'new-server': disks[1]: missing required field 'size'",
        ),
        (lambda d: _vm(d, "backup-host").pop("nics"), "vm 'backup-host': missing required field 'nics'"),
        (
            lambda d: _vm(d, "old-server")["nics"][0].update(mac="x"),
            "vm 'old-server': nics[0]: unknown key 'mac'",
        ),
        (
            lambda d: _vm(d, "new-server")["disks"][0].update(bus="scsi"),
            "field 'bus' must be one of virtio, sata, nvme",
        ),
        (
            lambda d: _vm(d, "new-server")["disks"][0].update(size="1T"),
            "field 'size' must look like 512M or 2G",
        ),
        (lambda d: _vm(d, "new-server")["bmc"].update(type="redfish"), "vm 'new-server': bmc: field 'type'"),
        (lambda d: _vm(d, "new-server").update(memory="lots"), "field 'memory' must be an integer"),
        (lambda d: _vm(d, "backup-host")["nics"][0].update(ip="10.77.0.11/24"), "already used by old-server"),
        (lambda d: _vm(d, "backup-host")["nics"][0].update(ip="192.168.1.5/24"), "not in the lab subnet"),
        (lambda d: _vm(d, "backup-host").update(name="old-server"), "vm 'old-server': duplicate VM name"),
        (lambda d: _vm(d, "old-server")["nics"][0].update(name="mgmt0"), "reserved for the management NIC"),
        (lambda d: _vm(d, "old-server")["nics"][0].pop("ip"), "nics[0]: the first NIC needs field 'ip'"),
        (lambda d: _vm(d, "backup-host").update(services=["dhcp"]), "services: 'dhcp' is not one of dns"),
        (
            lambda d: _vm(d, "old-server")["nics"][0].update(service_ip="10.77.0.50"),
            "must look like 10.77.0.50/24",
        ),
        (
            lambda d: _vm(d, "old-server")["nics"][0].update(service_ip="10.77.0.11/24"),
            "outside 10.77.0.0/24 or",
        ),
        (lambda d: _vm(d, "new-server")["nics"].append({"name": "lan1"}), "NIC names must be unique"),
        (lambda d: d.pop("site"), "spec: missing required field 'site'"),
        (lambda d: d.update(extra=1), "spec: unknown key 'extra'"),
    ],
)
def test_bad_spec_names_vm_and_field(mutate, message):
    with pytest.raises(SpecError) as err:
        parse_spec(_spec(mutate))
    assert message in str(err.value)


def test_vm_without_name_is_named_by_index():
    with pytest.raises(SpecError, match=r"vm 'vms\[2\]': missing required field 'name'"):
        parse_spec(_spec(lambda d: d["vms"][2].pop("name")))


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rackwright_lab", *args],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "lab"), "PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_bad_spec_is_one_line(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(_spec(lambda d: _vm(d, "new-server")["disks"][0].update(sise="1G"))))
    proc = _cli("check-spec", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "vm 'new-server': disks[0]: unknown key 'sise'" in proc.stderr
    proc = _cli("check-spec", str(tmp_path / "missing.yml"))
    assert proc.returncode == 2 and "cannot read lab spec" in proc.stderr


def test_cli_missing_qemu_says_what_to_install(tmp_path):
    proc = _cli("up", env={"PATH": str(tmp_path), "RACKWRIGHT_LAB_STATE": str(tmp_path / "state")})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "missing qemu-system-x86_64" in proc.stderr and "apt-get install" in proc.stderr
    assert not (tmp_path / "state").exists()


def test_inventory_shape():
    spec = load_spec()
    st = {"vms": {}}
    for i, vm in enumerate(spec.vms):
        bmc = {"type": "extern", "lan_port": 9623, "user": "admin", "password": "pw"} if vm.bmc else None
        st["vms"][vm.name] = {"ssh_port": 2200 + i, "lab_ip": vm.nics[0].ip.split("/")[0], "bmc": bmc}
    inv = inventory.build(spec, st, Path("/tmp/key"))["all"]
    assert inv["vars"]["ansible_host"] == "127.0.0.1" and inv["vars"]["ansible_user"] == "root"
    rack = inv["children"]["site_lab"]["children"]["rack_lab1"]["hosts"]
    assert rack["new-server"]["bmc_port"] == 9623 and rack["old-server"]["ansible_port"] == 2200
    assert set(inv["children"]["storage_servers"]["hosts"]) == {"new-server"}
    assert set(inv["children"]["vendor_qemu"]["hosts"]) == {"old-server", "new-server", "backup-host"}
