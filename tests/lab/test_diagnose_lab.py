"""playbooks/diagnose.yml on the lab: old-server "can't reach" new-server. With nothing wrong every layer
passes; each injected fault (link down, a wrong route, a wrong DNS answer, a firewall drop, a smaller MTU, a
port nothing listens on) is named as the failing layer, in words, with its evidence kept. It never changes a
host."""

import json
import shutil

import pytest
from conftest import ROOT, ensure_lab, guest, lab, playbook

pytestmark = pytest.mark.lab
SERVER, CLIENT = "new-server", "old-server"
LAB_HOSTS = "/run/rackwright-lab/hosts"  # what backup-host's dnsmasq answers from
REQUEST = ["-e", f"diagnose_server={SERVER}", "-e", f"diagnose_client={CLIENT}", "-e", "diagnose_port=22",
           "-e", "diagnose_name=new-server.lab.test", "-e", "diagnose_dns_server=10.77.0.13"]  # fmt: skip
STATE = "ip -br address; ip route; nft list ruleset"
WRONG_DNS = (
    f"cp {LAB_HOSTS} /root/hosts.orig && sed -i 's/^10.77.0.12 /10.77.0.99 /' {LAB_HOSTS} && "
    "systemctl reload dnsmasq"
)
DROP_22 = " && ".join((
    "nft add table inet faults",
    "nft add chain inet faults input '{ type filter hook input priority -10; }'",
    "nft add rule inet faults input iifname lan0 tcp dport 22 counter drop",
))  # fmt: skip


def diagnose(*args, keep=None):
    """Run the diagnosis; KEEP names a copy of its evidence and record under reports/lab/diagnose/ (the unit
    tests' fixtures in tests/fixtures/diagnose/ were taken from there)."""
    run = playbook("playbooks/diagnose.yml", *REQUEST, *args, timeout=300)
    assert run.returncode == 0, run.output[-4000:]
    record = json.loads((ROOT / "reports" / "diagnose" / f"{SERVER}.json").read_text())
    if keep:
        kept = ROOT / "reports" / "lab" / "diagnose" / keep
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(ROOT / "reports" / "diagnose" / f"{SERVER}-from-{CLIENT}", kept)
        shutil.copyfile(ROOT / "reports" / "diagnose" / f"{SERVER}.json", kept / "record.json")
    layers = {row["layer"]: row for row in record["details"]["layers"]}
    return run, record, layers


@pytest.fixture(scope="module")
def lab_as_booted(lab_session):
    ensure_lab()
    guest(SERVER, "nft delete table inet faults 2>/dev/null; ip link set lan0 mtu 1500; true")


def test_nothing_wrong_every_layer_passes_and_no_host_changes(lab_as_booted):
    before = {vm: guest(vm, STATE) for vm in (SERVER, CLIENT)}
    # Read-only, so check mode measures and says the diagnosis (like every capability it writes no file).
    checked = playbook("playbooks/diagnose.yml", *REQUEST, "--check", timeout=300)
    assert (
        checked.returncode == 0
        and f"{CLIENT} reaches {SERVER} (10.77.0.12:22) on every layer" in checked.stdout
    )
    run, record, layers = diagnose(keep="nothing-wrong")
    assert [row["status"] for row in layers.values()] == ["pass"] * 7, layers
    assert f"{CLIENT} reaches {SERVER} (10.77.0.12:22) on every layer" in run.stdout
    assert record["status"] == "ok" and "changed=0" in run.stdout.split("PLAY RECAP")[-1].split(SERVER)[1]
    assert {vm: guest(vm, STATE) for vm in (SERVER, CLIENT)} == before
    evidence = ROOT / "reports" / "diagnose" / f"{SERVER}-from-{CLIENT}"
    assert json.loads((evidence / "client-route.json").read_text())[0]["dev"] == "lan0"
    assert "10.77.0.12" in (evidence / "server-ip-addr.json").read_text()
    assert (ROOT / "reports" / "diagnose" / f"{SERVER}.md").read_text().startswith("# Network diagnosis")


@pytest.mark.parametrize(
    ("fault", "undo", "layer", "words"),
    [
        (
            lambda: lab("fault", "link-down", SERVER, "lan0"),
            lambda: lab("fault", "link-up", SERVER, "lan0"),
            "link",
            "new-server lan0 has no carrier",
        ),
        (
            lambda: guest(CLIENT, "ip route add 10.77.0.12/32 via 10.77.0.13 dev lan0"),
            lambda: guest(CLIENT, "ip route del 10.77.0.12/32"),
            "route",
            "old-server sends 10.77.0.12 via 10.77.0.13 on lan0, but 10.77.0.12 is on the subnet of lan0",
        ),
        (
            lambda: guest("backup-host", WRONG_DNS),
            lambda: guest("backup-host", f"cp /root/hosts.orig {LAB_HOSTS} && systemctl reload dnsmasq"),
            "dns",
            "new-server.lab.test -> 10.77.0.99",
        ),
        (
            lambda: guest(SERVER, "ip link set lan0 mtu 1400"),
            lambda: guest(SERVER, "ip link set lan0 mtu 1500"),
            "mtu",
            "the MTU differs on one segment: old-server lan0 MTU 1500, new-server lan0 MTU 1400",
        ),
        (
            lambda: guest(SERVER, DROP_22),
            lambda: guest(SERVER, "nft delete table inet faults"),
            "firewall",
            "table inet faults chain input: a rule drops tcp port 22",
        ),
    ],
    ids=["link-down", "wrong-route", "wrong-dns-answer", "mtu", "firewall-drop"],
)  # fmt: skip
def test_each_injected_fault_is_named_as_its_layer(lab_as_booted, fault, undo, layer, words, request):
    fault()
    try:
        run, record, layers = diagnose(keep=request.node.callspec.id)
    finally:
        undo()
    assert record["status"] == "critical" and record["details"]["failing_layer"] == layer, layers
    assert words in layers[layer]["found"], layers[layer]
    assert record["reasons"][0].startswith(f"{CLIENT} cannot reach {SERVER} (10.77.0.12:22): the ")
    assert layers[layer]["advice"] and f"What to do: {layers[layer]['advice']}" in run.stdout
    earlier = list(layers)[: list(layers).index(layer)]
    assert all(layers[name]["status"] == "pass" for name in earlier), layers


def test_a_port_nothing_listens_on_is_the_port_layer(lab_as_booted):
    run, record, layers = diagnose("-e", "diagnose_port=8081", keep="port-nothing-listens")
    assert record["details"]["failing_layer"] == "port", layers
    assert layers["port"]["found"] == "nothing listens on port 8081"
    assert layers["firewall"]["status"] == "pass"
    assert "start the service on new-server" in layers["port"]["advice"]


def test_a_request_naming_no_client_is_refused_in_words(lab_as_booted):
    run = playbook("playbooks/diagnose.yml", "-e", f"diagnose_server={SERVER}", timeout=120)
    assert run.returncode != 0 and "Traceback" not in run.output
    assert "Refusing to diagnose: diagnose_client is not set" in run.output, run.output[-2000:]
    same = ["-e", f"diagnose_server={SERVER}", "-e", f"diagnose_client={SERVER}"]
    run = playbook("playbooks/diagnose.yml", *same, timeout=120)
    assert run.returncode != 0 and "diagnose_server and diagnose_client are both 'new-server'" in run.output
