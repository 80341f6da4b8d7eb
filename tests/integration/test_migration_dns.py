"""A replacement that moves its service by DNS, on a real BIND (named, installed by `make system-integration`)
listening on 127.0.0.1: the migration role's dns.yml reads the name and proves the TSIG key without changing
anything, points the name at the new host by signed dynamic update (RFC 2136) and back at the old one, and
says in words what a wrong key, a dead server or an unsigned zone is. The address-moving cutover is proven on
the QEMU lab (tests/lab/test_replace_server_lab.py); this one is controller-side, so it runs here."""

import base64
import json
import os
import shutil
import socket
import subprocess
import time

import dns.message
import dns.query
import dns.rdatatype
import pytest
from conftest import ADHOC_ENV, ANSIBLE_PLAYBOOK, ROOT

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_migration as migration

SECRET = base64.b64encode(b"rackwright-integration-test-key!").decode()
ZONE = """$TTL 60
@        IN SOA ns.lab.example. hostmaster.lab.example. 1 3600 600 86400 60
@        IN NS  ns.lab.example.
ns       IN A   127.0.0.1
data     IN A   127.0.0.2
slow 86400 IN A 127.0.0.2
twice    IN A   127.0.0.2
twice    IN A   127.0.0.4
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    """A real authoritative BIND for lab.example on 127.0.0.1, taking updates of the zone signed with the
    key "rackwright"."""
    binary = shutil.which("named") or "/usr/sbin/named"
    assert os.path.exists(binary), "named not installed: run `make system-integration`"
    work = tmp_path_factory.mktemp("named")
    (work / "lab.example.zone").write_text(ZONE)
    port = free_port()
    (work / "named.conf").write_text(
        f"""key "rackwright" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
options {{
    directory "{work}";
    pid-file "{work}/named.pid";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
}};
zone "lab.example" {{
    type primary;
    file "{work}/lab.example.zone";
    update-policy {{ grant rackwright zonesub ANY; }};
}};
"""
    )
    log = open(work / "named.log", "w")  # noqa: SIM115 - open for the server's whole life
    proc = subprocess.Popen(
        [binary, "-g", "-c", str(work / "named.conf"), "-u", "root"], stdout=log, stderr=log
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if "running" in (work / "named.log").read_text():
            break
        assert proc.poll() is None, (work / "named.log").read_text()
        time.sleep(0.2)
    else:
        pytest.fail("named did not start: " + (work / "named.log").read_text())
    yield {"port": port, "work": work}
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def answer(named, name):
    response = dns.query.tcp(dns.message.make_query(name, "A"), "127.0.0.1", port=named["port"], timeout=5)
    return sorted(item.to_text() for rrset in response.answer for item in rrset)


def service(named, name="data.lab.example", **dns_overrides):
    spec = {"name": name, "zone": "lab.example", "server": "127.0.0.1", "port": named["port"],
            "key_name": "rackwright", "key_secret": SECRET}  # fmt: skip
    spec.update(dns_overrides)
    return {"name": "lab-data", "units": ["lab-data.service"], "paths": ["/srv/data"], "dns": spec}


def dns_tasks(named, action, svc, *options, **variables):
    """Run the migration role's dns.yml ACTION on localhost as the role runs it; returns (the name's state as
    read at the end, tasks by name, the whole output)."""
    out = named["work"] / "read.json"
    playbook = f"""- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: rackwright.infra.migration
        tasks_from: dns.yml
    - ansible.builtin.copy:
        content: "{{{{ __migration_dns_read | to_json }}}}"
        dest: {out}
        mode: "0644"
      check_mode: false
"""
    before = {"name": svc["dns"]["name"], "from": "127.0.0.2", "ttl": 60}
    extra = {
        "__migration_service": svc,
        "__migration_dns_action": action,
        "migration_dns_address": "127.0.0.3",
        "__migration_state": {"steps": [{"step": "preflight", "details": {"dns": before}}]},
        **variables,
    }
    proc = subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", *options, "-e", json.dumps(extra)]
        + ["/dev/stdin"],
        input=playbook, capture_output=True, text=True, env=ADHOC_ENV, cwd=ROOT, timeout=180, check=False,
    )  # fmt: skip
    document = json.loads(proc.stdout[proc.stdout.index("{") :])
    tasks = {
        task["task"]["name"].split(" : ")[-1]: task["hosts"]["localhost"]
        for task in document["plays"][0]["tasks"]
    }
    read = json.loads(out.read_text()) if out.exists() and proc.returncode == 0 else None
    if out.exists():
        out.unlink()
    return read, tasks, proc


def test_read_proves_the_key_and_changes_nothing(named):
    read, tasks, proc = dns_tasks(named, "read", service(named))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert read["values"] == ["127.0.0.2"] and read["ttl"] == 60 and read["type"] == "A", read
    assert read["error"] == "" and read["key_error"] == "", read
    assert answer(named, "data.lab.example") == ["127.0.0.2"]
    facts = {"old": {"addresses": ["127.0.0.2"]}, "new": {"addresses": ["127.0.0.3"]}}
    assert migration.dns_problems("old", "new", facts, read) == []
    assert migration.dns_problems(
        "old", "new", {"old": {"addresses": ["10.0.0.9"]}, "new": facts["new"]}, read
    ) == [
        "DNS: data.lab.example points at 127.0.0.2, which is not an address of old (10.0.0.9): was the "
        "cutover done another way?"
    ]


def test_a_wrong_key_a_dead_server_a_long_ttl_and_two_records_are_reasons_in_words(named):
    facts = {"old": {"addresses": ["127.0.0.2", "127.0.0.4"]}, "new": {"addresses": ["127.0.0.3"]}}
    wrong = base64.b64encode(b"not the key the server knows....").decode()
    read, _tasks, proc = dns_tasks(named, "read", service(named, key_secret=wrong))
    assert proc.returncode == 0, proc.stdout[-3000:]
    [problem] = migration.dns_problems("old", "new", facts, read)
    assert problem.startswith(
        "DNS: the update key rackwright is not accepted by 127.0.0.1: TSIG update error"
    ), problem

    read, _tasks, proc = dns_tasks(named, "read", service(named, port=free_port()))
    assert proc.returncode == 0, proc.stdout[-3000:]
    [problem] = migration.dns_problems("old", "new", facts, read)
    assert problem.startswith("DNS: cannot read data.lab.example at 127.0.0.1: DNS server error"), problem

    read, _tasks, proc = dns_tasks(named, "read", service(named, name="slow.lab.example"))
    assert migration.dns_problems("old", "new", facts, read) == [
        "DNS: slow.lab.example has a TTL of 86400 s, over migration_dns_max_ttl (300 s): clients would keep "
        "reaching old for up to 86400 s after the cutover; lower the TTL at least 86400 s before the window"
    ]
    read, _tasks, proc = dns_tasks(named, "read", service(named, name="twice.lab.example"))
    assert migration.dns_problems("old", "new", facts, read) == [
        "DNS: twice.lab.example has 2 A records (127.0.0.2, 127.0.0.4); a replacement moves one"
    ]
    read, _tasks, proc = dns_tasks(named, "read", service(named, name="gone.lab.example"))
    assert migration.dns_problems("old", "new", facts, read) == [
        "DNS: gone.lab.example has no A record at 127.0.0.1: nothing points clients at old"
    ]
    assert answer(named, "data.lab.example") == ["127.0.0.2"]


def test_point_moves_the_name_by_signed_update_and_back(named):
    svc = service(named)
    point = "Point data.lab.example at 127.0.0.3"
    _read, tasks, proc = dns_tasks(named, "point", svc, "--check", __migration_dns_value="127.0.0.3",
                                   __migration_dns_ttl=60)  # fmt: skip
    assert proc.returncode == 0 and tasks[point]["changed"], proc.stdout[-3000:]
    assert answer(named, "data.lab.example") == ["127.0.0.2"]  # check mode changed nothing

    read, tasks, proc = dns_tasks(
        named, "point", svc, __migration_dns_value="127.0.0.3", __migration_dns_ttl=60
    )
    assert proc.returncode == 0 and tasks[point]["changed"], proc.stdout[-3000:]
    assert read["values"] == ["127.0.0.3"] and read["ttl"] == 60
    assert answer(named, "data.lab.example") == ["127.0.0.3"]

    read, tasks, proc = dns_tasks(
        named, "point", svc, __migration_dns_value="127.0.0.3", __migration_dns_ttl=60
    )
    assert proc.returncode == 0 and not tasks[point]["changed"], proc.stdout[
        -3000:
    ]  # a re-run changes nothing

    back = "Point data.lab.example at 127.0.0.2"
    read, tasks, proc = dns_tasks(
        named, "point", svc, __migration_dns_value="127.0.0.2", __migration_dns_ttl=60
    )
    assert proc.returncode == 0 and tasks[back]["changed"], proc.stdout[-3000:]
    assert answer(named, "data.lab.example") == ["127.0.0.2"]


def test_an_update_the_server_refuses_fails_the_step_in_words(named):
    svc = service(named, name="data.lab.example", zone="other.example")
    _read, tasks, proc = dns_tasks(
        named, "point", svc, __migration_dns_value="127.0.0.3", __migration_dns_ttl=60
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout + proc.stderr
    failed = tasks["Fail unless the server took the update"]
    assert failed.get("failed") and failed["msg"] == (
        "data.lab.example could not be pointed at 127.0.0.3 by 127.0.0.1: Failed to create DNS record "
        "(rc: 9) (NOTAUTH: the server is not authoritative for the zone, or the key may not update it: check "
        "rackwright_service.dns.zone and the zone's update-policy)"
    ), failed
    assert answer(named, "data.lab.example") == ["127.0.0.2"]
