"""The one result record (filter result_record), its reader (lookup result_records), the rollup."""

import json

import pytest
from ansible.errors import AnsibleFilterError, AnsibleLookupError

from ansible_collections.rackwright.infra.plugins.filter import rackwright_record
from ansible_collections.rackwright.infra.plugins.lookup import result_records

FILTERS = rackwright_record.FilterModule().filters()
record, rollup = FILTERS["result_record"], FILTERS["record_rollup"]


def test_a_record_has_the_six_fields_and_a_utc_time():
    got = record("warning", "backup", "db1", ["data: snapshot 3 days old"], {"jobs": 1})
    assert list(got) == ["kind", "host", "time", "status", "reasons", "details"]
    assert (got["kind"], got["host"], got["status"]) == ("backup", "db1", "warning")
    assert got["reasons"] == ["data: snapshot 3 days old"] and got["details"] == {"jobs": 1}
    assert got["time"].endswith("+00:00") and got["time"][:4].isdigit()


def test_the_time_is_kept_while_the_record_says_the_same_thing():
    old = dict(record("ok", "health", "db1"), time="2026-01-02T03:04:05+00:00")
    assert record("ok", "health", "db1", previous=old)["time"] == old["time"]
    assert record("ok", "health", "db1", previous=json.dumps(old))["time"] == old["time"]  # the file's text
    changed = record("critical", "health", "db1", ["disk: /dev/sda failing"], previous=old)
    assert changed["time"] != old["time"]  # a new verdict is a new time
    assert record("ok", "health", "db1", previous="not json")["time"] != old["time"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fine", "health", "db1"), "status 'fine' is not one of ok, unknown, warning, critical"),
        (("ok", "Health", "db1"), "kind must be a lower-case word"),
        (("ok", "health", ""), "host must be a host name"),
        (("ok", "health", "db1", 3), "reasons must be a list of strings, not int"),
        (("ok", "health", "db1", [], ["x"]), "details must be a dict, not list"),
    ],
)
def test_bad_record_input_names_what_was_expected(args, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(")):
        record(*args)


def test_rollup_groups_any_kind_and_counts_hosts_without_a_record_as_unknown():
    records = {
        "node2": record("critical", "storage", "node2", ["md0: degraded"]),
        "node1": record("ok", "storage", "node1"),
        "node3": record("warning", "storage", "node3", "resync 11.2%"),
        "node4": None,
        "node5": {"kind": "storage", "host": "node5", "status": "fine"},
    }
    fleet = rollup(records, "storage")
    assert (fleet["kind"], fleet["status"]) == ("storage", "critical")
    assert (fleet["critical"], fleet["warning"], fleet["ok"]) == (["node2"], ["node3"], ["node1"])
    assert fleet["unknown"] == ["node4", "node5"]
    assert fleet["counts"] == {"critical": 1, "warning": 1, "ok": 1, "unknown": 2, "total": 5}
    assert fleet["reasons"]["node3"] == ["resync 11.2%"]  # a lone string is one reason
    assert fleet["reasons"]["node4"] == ["no storage record for this host"]
    assert "expected one of" in fleet["reasons"]["node5"][0]
    assert set(fleet["time"]) == {"node1", "node2", "node3"}
    assert rollup([records["node1"]], "storage")["ok"] == ["node1"]  # a list of records works too
    assert rollup({}, "storage")["status"] == "unknown"  # nothing known is not ok
    with pytest.raises(AnsibleFilterError, match="expects a list of records or a dict"):
        rollup("node1")


def lookup(tmp_path, *terms, hosts):
    plugin = result_records.LookupModule()
    return plugin.run(list(terms), variables={}, hosts=hosts, dir=str(tmp_path))[0]


def test_the_lookup_reads_each_hosts_record_and_distrusts_wrong_files(tmp_path):
    (tmp_path / "health").mkdir()
    good = record("ok", "health", "db1")
    (tmp_path / "health" / "db1.json").write_text(json.dumps(good))
    (tmp_path / "health" / "db2.json").write_text(json.dumps(record("ok", "health", "db1")))  # another host's
    (tmp_path / "health" / "db3.json").write_text("{cut off")
    (tmp_path / "health" / "db4.json").write_text(json.dumps(record("ok", "backup", "db4")))  # another kind
    got = lookup(tmp_path, "health", hosts=["db1", "db2", "db3", "db4", "db5"])
    assert got == {"db1": good, "db2": None, "db3": None, "db4": None, "db5": None}
    assert rollup(got, "health")["unknown"] == ["db2", "db3", "db4", "db5"]


@pytest.mark.parametrize(
    ("terms", "hosts"),
    [(["../etc"], ["db1"]), (["health", "x"], ["db1"]), (["health"], [".."]), (["health"], "db1")],
)
def test_the_lookup_refuses_a_bad_kind_or_host(tmp_path, terms, hosts):
    with pytest.raises(AnsibleLookupError, match="result_records: "):
        lookup(tmp_path, *terms, hosts=hosts)


def test_the_reports_directory_is_defined_once(tmp_path):
    """rackwright_reports_dir wins; else reports/ beside playbooks/; result_records reads there by default."""
    from ansible_collections.rackwright.infra.plugins.lookup import reports_dir

    where = reports_dir.LookupModule()
    assert where.run([], variables={"playbook_dir": "/srv/rw/playbooks"}) == ["/srv/rw/reports"]
    chosen = {"playbook_dir": "/srv/rw/playbooks", "rackwright_reports_dir": str(tmp_path)}
    assert where.run([], variables=chosen) == [str(tmp_path)]
    with pytest.raises(AnsibleLookupError, match="reports_dir: takes no terms"):
        where.run(["health"], variables=chosen)
    (tmp_path / "health").mkdir()
    (tmp_path / "health" / "db1.json").write_text(json.dumps(record("ok", "health", "db1")))
    found = result_records.LookupModule().run(["health"], variables=chosen, hosts=["db1"])[0]
    assert found["db1"]["status"] == "ok"
