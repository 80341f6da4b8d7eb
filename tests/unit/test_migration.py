"""A server replacement's request, pre-flight judgment, state record and report
(module_utils/rackwright_migration.py, filters rackwright.infra.migration_*); the move itself runs on the lab
(tests/lab/test_replace_server_lab.py)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.filter.rackwright_migration import (
    migration_request,
    migration_step,
)
from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_migration as migration

SERVICE = {
    "name": "crm-db",
    "units": ["postgresql.service"],
    "paths": ["/var/lib/postgresql"],
    "address": {"address": "10.0.0.50/24", "interface": "eth0"},
    "port": 5432,
    "packages": ["postgresql-15"],
}


DNS = {"name": "crm.example.net", "zone": "example.net", "server": "10.0.0.2", "key_name": "rackwright",
       "key_secret": "c2VjcmV0", "ttl": 60}  # fmt: skip


def test_a_sound_service_has_no_problem():
    assert migration.service_problems(SERVICE) == []
    assert migration.service_problems({**SERVICE, "address": None, "dns": DNS}) == []
    assert (
        migration.service_problems({"name": "web", "units": ["nginx.service"], "paths": ["/srv/www"]}) == []
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"colour": "blue"}, "rackwright_service.colour: unknown key"),
        ({"name": "CRM DB"}, "rackwright_service.name: expected a short lower-case name"),
        ({"units": []}, "rackwright_service.units: expected a non-empty list of systemd unit names"),
        ({"units": ["postgresql"]}, "rackwright_service.units[0]: expected a systemd unit name"),
        ({"paths": ["relative/dir"]}, "rackwright_service.paths[0]: expected an absolute data directory"),
        ({"paths": ["/"]}, "rackwright_service.paths[0]: expected an absolute data directory (not /)"),
        ({"paths": ["/srv", "/srv/data"]}, "rackwright_service.paths[1]: /srv/data lies inside another path"),
        (
            {"address": {"address": "10.0.0.50", "interface": "eth0"}},
            "address.address: expected an address with its prefix",
        ),
        (
            {"address": {"address": "10.0.0.50/24"}},
            "rackwright_service.address: expected {address: ADDRESS/PREFIX",
        ),
        (
            {"address": {"address": "10.0.0.50/24", "interface": "eth0; rm -rf"}},
            "address.interface: expected a network",
        ),
        ({"port": 70000}, "rackwright_service.port: expected a TCP port 1-65535, got 70000"),
        ({"port": True}, "rackwright_service.port: expected a TCP port"),
        ({"packages": "postgresql"}, "rackwright_service.packages: expected a list of Debian package names"),
        ({"dns": DNS}, "rackwright_service: declares both address and dns; a service moves by one of them"),
        (
            {"address": None, "dns": "crm.example.net"},
            "rackwright_service.dns: expected {name, server, key_name",
        ),
        (
            {"address": None, "dns": {**DNS, "ttl": 0}},
            "rackwright_service.dns.ttl: expected a number 1-86400",
        ),
        ({"address": None, "dns": {**DNS, "colour": 1}}, "rackwright_service.dns.colour: unknown key"),
        ({"address": None, "dns": {"name": "crm.example.net"}}, "rackwright_service.dns.server: missing"),
        (
            {"address": None, "dns": {**DNS, "server": "ns1"}},
            "rackwright_service.dns.server: expected the IP",
        ),
        (
            {"address": None, "dns": {**DNS, "name": "crm..net"}},
            "rackwright_service.dns.name: expected a DNS name",
        ),
        (
            {"address": None, "dns": {**DNS, "zone": "other.net"}},
            "dns.name: crm.example.net is not in the zone",
        ),
        (
            {"address": None, "dns": {**DNS, "key_secret": ""}},
            "dns.key_secret: expected the TSIG key's secret",
        ),
        (
            {"address": None, "dns": {**DNS, "key_algorithm": "md5"}},
            "dns.key_algorithm: expected one of hmac-",
        ),
    ],
)
def test_every_bad_service_field_is_named(change, problem):
    service = {**SERVICE, **change}
    problems = migration.service_problems({k: v for k, v in service.items() if v is not None})
    assert any(problem in p for p in problems), problems
    assert migration.service_problems("postgres")[0].startswith("rackwright_service: expected a mapping")


def test_the_request_is_refused_with_every_reason_before_any_host_is_contacted():
    hostvars = {"old": {"rackwright_service": SERVICE}, "new": {}, "bare": {}}
    assert migration_request(hostvars, "old", "new", ["old", "new", "bare"]) == SERVICE
    for old, new, reason in [
        ("old", "old", "a server cannot replace itself"),
        ("old", "gone", "migration_new: 'gone' is not a host of the inventory"),
        ("", "new", "migration_old: expected the inventory name of the old host"),
        ("bare", "new", "bare declares no rackwright_service"),
    ]:
        with pytest.raises(AnsibleFilterError, match="Refusing to replace a server: .*" + reason):
            migration_request(hostvars, old, new, ["old", "new", "bare"])


def facts(**new):
    old = {
        "sizes": {"/srv/data": 10 * 1024**3},
        "packages": {"postgresql-15": "15.8-0+deb12u1"},
        "address_held": True,
    }
    return {
        "old": old,
        "new": {
            "free": {"/srv/data": 20 * 1024**3},
            "packages": {"postgresql-15": "15.8-0+deb12u1"},
            "active_units": [],
            "address_held": False,
            "nonempty": [],
            **new,
        },
    }


def test_a_ready_pair_passes_the_preflight():
    assert (
        migration.preflight_problems("old", "new", facts(), 0.1, {"old": {"health": "ok"}}, {"status": "ok"})
        == []
    )


def test_the_preflight_names_every_reason_at_once():
    problems = migration.preflight_problems(
        "old",
        "new",
        facts(
            free={"/srv/data": 10 * 1024**3},
            packages={"postgresql-15": "16.4-1"},
            active_units=["postgresql.service"],
            address_held=True,
            nonempty=["/srv/data"],
        ),
        0.1,
        {"new": {"health": "critical", "reasons": ["disk: /dev/sda: reallocated sectors 304 > 0"]}},
        {"status": "critical", "reasons": ["ports[0]: expected open, measured filtered"]},
    )
    assert problems == [
        "new: hardware health critical (disk: /dev/sda: reallocated sectors 304 > 0)",
        "new: /srv/data has 10.0 GiB free, needs 11.0 GiB (10.0 GiB of data + 10% margin)",
        "new: package postgresql-15 would be 16.4-1, old runs 15.8-0+deb12u1",
        "new already holds the service address: was the cutover done another way?",
        "new: postgresql.service is already running (it would write beside the copy)",
        "new: /srv/data holds files this migration did not copy (move them away first)",
        "new: not accepted before the service (critical): ports[0]: expected open, measured filtered",
    ]
    missing = migration.preflight_problems("old", "new", facts(packages={}), 0.1, acceptance=None)
    assert "new: package postgresql-15 (15.8-0+deb12u1 on old) is neither installed nor available" in missing
    assert "new: not accepted before the service (unknown): no acceptance record" in missing


def test_the_state_record_finishes_each_step_once_in_order_and_clears_a_recorded_failure():
    state = migration_step("", "preflight", {"data_bytes": 1}, now="2026-12-07T01:00:00+00:00")
    assert (
        state["done"] == {"preflight": "2026-12-07T01:00:00+00:00"}
        and state["status"] == "preflight finished"
    )
    state["failure"] = {"phase": "archive", "reason": "backup-host unreachable"}
    state = migration_step(state, "archive", {"snapshots": ["0a1b2c3d"]}, now="2026-12-07T01:05:00+00:00")
    assert "failure" not in state and [s["step"] for s in state["steps"]] == ["preflight", "archive"]
    again = migration_step(state, "archive", {"snapshots": ["other"]})
    assert again == state  # a step finishes once: a re-run does not record it again
    for step in migration.STEPS[2:]:
        state = migration_step(state, step, now="2026-12-07T02:00:00+00:00")
    assert state["status"] == "done"
    with pytest.raises(AnsibleFilterError, match="unknown migration step 'copy'"):
        migration_step(state, "copy")
    report = migration.report_markdown(dict(state, old="old", new="new"))
    assert report.startswith("# Server replacement: old -> new\n\n**Status:** done")
    assert "| archive | 2026-12-07T01:05:00+00:00 | snapshots: [0a1b2c3d] |" in report
    # The same record with its keys in another order, or a number as text, renders the same report.
    shuffled = dict(state, steps=[dict(s, details=dict(reversed(list((s.get("details") or {}).items()))))
                                  for s in state["steps"]])  # fmt: skip
    shuffled["steps"][0]["details"] = {"items": {"fail": 0, "pass": 18}, "data_bytes": "10"}
    state["steps"][0]["details"] = {"data_bytes": 10, "items": {"pass": 18, "fail": 0}}
    assert migration.report_markdown(shuffled) == migration.report_markdown(state)
    assert migration.verdict(state) == {"status": "ok", "reasons": []}
    first = migration_step("", "preflight", now="t")
    assert migration.verdict(first) == {"status": "warning", "reasons": ["preflight finished; next: archive"]}
    failed = dict(first, failure={"reason": "backup-host unreachable"})
    assert migration.verdict(failed)["reasons"] == ["failed before archive: backup-host unreachable"]
    back = dict(state, status="rolled back", rollback={"reason": "port 80 filtered", "at": "t"})
    assert migration.verdict(back) == {"status": "critical", "reasons": ["rolled back: port 80 filtered"]}
    rolled = migration.report_markdown(dict(state, rollback={"reason": "port 80 filtered", "at": "t"}))
    assert "**Rolled back:** port 80 filtered (at t)" in rolled


def test_a_service_that_moves_by_dns_is_judged_on_what_the_name_holds():
    read = {
        "name": "crm.example.net",
        "server": "10.0.0.2",
        "type": "A",
        "values": ["10.0.0.11"],
        "ttl": 60,
        "max_ttl": 300,
        "target": "10.0.0.12",
        "error": "",
        "key_name": "rackwright",
        "key_error": "",
    }
    pair = facts()
    pair["old"]["addresses"], pair["new"]["addresses"] = ["10.0.0.11"], ["10.0.0.12"]
    assert migration.preflight_problems("old", "new", pair, 0.1, dns=read) == []
    assert migration.preflight_problems("old", "new", pair, 0.1, dns={**read, "target": "10.0.0.99"}) == [
        "DNS: crm.example.net would point at 10.0.0.99 (migration_dns_address), which is not an address of "
        "new (10.0.0.12)"
    ]
    refused = {**read, "key_error": "TSIG update error (PeerBadKey): The peer didn't know the key we used"}
    assert migration.preflight_problems("old", "new", pair, 0.1, dns=refused) == [
        "DNS: the update key rackwright is not accepted by 10.0.0.2: TSIG update error (PeerBadKey): The "
        "peer didn't know the key we used"
    ]
