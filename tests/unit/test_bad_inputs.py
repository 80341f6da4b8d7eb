"""Bad input, per module, table-driven: every case asserts the verdict AND the message.

Classes (issue #8 item 5, cases of the project's bad-input probe, inputs in tests/fixtures/bad-inputs/):
empty, blank, cut off, of the wrong tool, not a tool's output at all (prose, CSV, random bytes, NUL
bytes), CRLF / non-UTF-8 / UTF-16 copies, decimal commas, JSON fields of the wrong type, malformed Redfish
answers (saved and live), a FIFO (must not hang), a directory, a character device, a symlink loop, a
missing path, a file over the size cap, ``from_files`` given but empty or of the wrong type (an error,
never live mode), numeric-string thresholds (what AWX surveys and ``-e key=value`` produce) and thresholds
that are not numbers.

None of these may end in a traceback or a confident ``ok``; unreadable or unparsable input answers ``unknown``
with a reason naming the file and what was expected.
"""

import json
import os
import time

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule
from conftest import FIXTURES, assert_verdict, fixture_text

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_check_bmc
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_module import MAX_INPUT_BYTES
from ansible_collections.rackwright.infra.plugins.modules import (
    bmc_health,
    disk_health,
    gpu_health,
    hw_inventory,
    raid_health,
)

BAD = FIXTURES / "bad-inputs"
MODULES = {
    "disk_health": disk_health,
    "raid_health": raid_health,
    "bmc_health": bmc_health,
    "gpu_health": gpu_health,
    "hw_inventory": hw_inventory,
}
EXPECTS = {
    "disk_health": "expected smartctl --json -x JSON, smartctl -a/-x text or nvme smart-log -o json",
    "raid_health": "expected /proc/mdstat, mdadm --detail, storcli/perccli JSON or text, or ssacli text",
    "bmc_health": "expected ipmitool sdr/sdr elist/sensor/sel elist, FreeIPMI ipmi-sensors/ipmi-sel",
    "gpu_health": "expected nvidia-smi -q -x output",
    "hw_inventory": "expected dmidecode, lsblk -J, nvme list -o json or lspci -mm output",
}
# A valid input per module, for the argument cases.
GOOD = {
    "disk_health": "smartctl/sata-hdd-reallocated-sectors-304.json",
    "raid_health": "mdstat/raid5-healthy-with-spares.txt",
    "bmc_health": "lab/ipmitool-sdr-elist-ipmi-sim-healthy.txt",
    "gpu_health": "nvidia-smi/tesla-p100-correctable-ecc-3.xml",
    "hw_inventory": "dmidecode/dell-poweredge-r640.txt",
}


@pytest.fixture
def special(tmp_path):
    """Inputs that cannot live in git: FIFO, directory, symlink loop, oversized file, missing path."""
    paths = {
        "fifo": tmp_path / "fifo",
        "dir": tmp_path / "adir",
        "loop": tmp_path / "loop",
        "huge": tmp_path / "huge.txt",
        "missing": tmp_path / "does-not-exist",
    }
    os.mkfifo(paths["fifo"])
    paths["dir"].mkdir()
    paths["loop"].symlink_to(paths["loop"])
    with open(paths["huge"], "wb") as handle:  # sparse: 50 MiB of size, no disk used
        handle.truncate(50 * 1024 * 1024)
    paths = {key: str(value) for key, value in paths.items()}
    paths["zero"] = "/dev/zero"
    paths["null"] = "/dev/null"
    return paths


def resolve(name, special):
    if name.startswith("@"):
        return special[name[1:]]
    if "/" in name:
        return str(FIXTURES / name)
    return str(BAD / name)


# Every module gets these; (case id, input, message that must appear, with {path} for the file).
COMMON = [
    ("fifo", "@fifo", "cannot read {path}: it is a FIFO (named pipe), expected a regular file"),
    ("directory", "@dir", "cannot read {path}: it is a directory, expected a regular file"),
    ("symlink-loop", "@loop", "cannot read {path}: Too many levels of symbolic links"),
    ("missing", "@missing", "cannot read {path}: No such file or directory"),
    ("dev-zero", "@zero", "cannot read /dev/zero: it is a character device"),
    ("dev-null", "@null", "cannot read /dev/null: it is a character device"),
    ("oversized", "@huge", f"cannot read {{path}}: 52428800 bytes is over the {MAX_INPUT_BYTES} byte limit"),
]

# (module, case id, input, health, message that must appear in a reason; {path} is the file given)
with open(os.path.join(os.path.dirname(__file__), "bad_inputs.yml"), encoding="utf-8") as cases:
    CASES = [
        (module, case, *row) for module, rows in yaml.safe_load(cases).items() for case, row in rows.items()
    ]
CASES += [(module, case, name, "unknown", message) for module in MODULES for case, name, message in COMMON]


@pytest.mark.parametrize(
    ("module", "name", "health", "message"),
    [pytest.param(m, n, h, msg, id=f"{m}-{case}") for m, case, n, h, msg in CASES],
)
def test_bad_input_verdict_and_message(run_module, special, module, name, health, message):
    path = resolve(name, special)
    start = time.monotonic()
    result = run_module(MODULES[module], {"from_files": [path]})
    assert time.monotonic() - start < 10, "bad input must be refused quickly"
    assert result.get("failed") is not True, result.get("msg")
    assert_verdict(result, health, None if message is None else message.format(path=path))
    if health == "unknown" and name.startswith("@"):
        assert any(path in reason for reason in result["reasons"]), "the reason must name the input"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_unparsable_reason_names_the_file_and_what_was_expected(run_module, module):
    path = str(BAD / "garbage5.bin")
    result = run_module(MODULES[module], {"from_files": [path]})
    assert result["health"] == "unknown"
    assert any(path in r and "expected" in r for r in result["reasons"]), result["reasons"]
    if module != "gpu_health":  # XML errors say "invalid XML"; the others name the expected tools
        assert any(EXPECTS[module] in r for r in result["reasons"]), result["reasons"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_one_bad_file_does_not_hide_the_good_one(run_module, module):
    good = str(FIXTURES / GOOD[module])
    result = run_module(MODULES[module], {"from_files": [str(BAD / "empty.txt"), good]})
    assert (
        result["health"] == "unknown" if module in ("raid_health", "bmc_health") else result["health"] != "ok"
    )
    assert any("empty" in r for r in result["reasons"]), result["reasons"]
    if module == "disk_health":
        assert [d["health"] for d in result["disks"]] == ["unknown", "warning"]
        assert "{}: reallocated sectors 304 > 0".format("/dev/sda") in result["reasons"]


# --- from_files of the wrong shape: an argument error naming the option, never live mode
ARGUMENT_CASES = [
    ("empty-list", [], "from_files is empty: give at least one saved"),
    ("int", 5, "from_files must be a list of paths to saved"),
    ("bool", True, "from_files must be a list of paths to saved"),
    ("dict", {"a": 1}, "from_files must be a list of paths to saved"),
    ("null-element", [None], "from_files[0] must be the path of a saved"),
    ("empty-string-element", [""], "from_files[0] must be the path of a saved"),
    ("nested-list", [["x.json"]], "from_files[0] must be the path of a saved"),
    ("empty-string", "", "from_files is empty: give at least one saved"),
]


@pytest.fixture
def no_live_tools(monkeypatch):
    """Any attempt at live mode would run a tool: make that fail the test."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("the module went to live mode")

    monkeypatch.setattr(AnsibleModule, "run_command", refuse)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", refuse)


@pytest.mark.parametrize("module", sorted(MODULES))
@pytest.mark.parametrize(("value", "message"), [pytest.param(v, m, id=c) for c, v, m in ARGUMENT_CASES])
def test_from_files_of_the_wrong_shape_is_an_error(run_module, no_live_tools, module, value, message):
    result = run_module(MODULES[module], {"from_files": value})
    assert result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]
    assert EXPECTS[module].replace("expected ", "")[:20] in result["msg"]


def test_from_files_as_a_plain_string_is_one_path(run_module):
    result = run_module(disk_health, {"from_files": str(FIXTURES / GOOD["disk_health"])})
    assert result["health"] == "warning"


# --- thresholds: numeric strings accepted (AWX surveys, -e k=v), anything else a clear error
THRESHOLD_CASES = [
    ("disk_health", {"reallocated_warning": "10"}, "warning", "reallocated sectors 304 > 10"),
    ("disk_health", {"reallocated_warning": " 400 "}, "ok", None),
    ("disk_health", {"reallocated_warning": 400.0}, "ok", None),
    ("disk_health", {"temperature_warning": "40"}, "warning", "reallocated sectors 304 > 0"),  # disk at 33 C
    ("disk_health", {"temperature_warning": "20"}, "warning", "temperature 33 C >= 20 C"),
    ("disk_health", {"temperature_critical": "30.5"}, "critical", "temperature 33 C >= 30.5 C"),
    ("disk_health", {"error_log_warning": "yes"}, "warning", "reallocated sectors 304 > 0"),
    ("gpu_health", {"ecc_correctable_warning": "5"}, "ok", None),
    ("gpu_health", {"ecc_correctable_warning": "2"}, "warning", "correctable ECC errors 3 > 2"),
]


@pytest.mark.parametrize(("module", "thresholds", "health", "reason"), THRESHOLD_CASES)
def test_numeric_string_thresholds(run_module, module, thresholds, health, reason):
    result = run_module(
        MODULES[module], {"from_files": [str(FIXTURES / GOOD[module])], "thresholds": thresholds}
    )
    assert result["health"] == health, result["reasons"]
    if reason:
        assert any(reason in r for r in result["reasons"]), result["reasons"]


BAD_THRESHOLDS = [
    (
        "disk_health",
        {"reallocated_warning": None},
        "thresholds.reallocated_warning must be a number, got None",
    ),
    (
        "disk_health",
        {"reallocated_warning": "ten"},
        "thresholds.reallocated_warning must be a number, got 'ten'",
    ),
    (
        "disk_health",
        {"reallocated_warning": True},
        "thresholds.reallocated_warning must be a number, got True",
    ),
    ("disk_health", {"reallocated_warning": [1]}, "thresholds.reallocated_warning must be a number, got [1]"),
    ("disk_health", {"error_log_warning": "maybe"}, "thresholds.error_log_warning must be true or false"),
    ("disk_health", {"realocated_warning": 5}, "unknown thresholds ['realocated_warning']; valid keys: ["),
    (
        "gpu_health",
        {"ecc_correctable_warning": "many"},
        "thresholds.ecc_correctable_warning must be a number",
    ),
    ("gpu_health", {"ecc_warning": 5}, "unknown thresholds ['ecc_warning']"),
]


@pytest.mark.parametrize(("module", "thresholds", "message"), BAD_THRESHOLDS)
def test_thresholds_that_are_not_numbers_fail_clearly(run_module, module, thresholds, message):
    result = run_module(
        MODULES[module], {"from_files": [str(FIXTURES / GOOD[module])], "thresholds": thresholds}
    )
    assert result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]


def test_thresholds_as_key_value_string(run_module):
    """``thresholds=reallocated_warning=10`` on the command line arrives as a dict of strings."""
    result = run_module(
        disk_health,
        {"from_files": [str(FIXTURES / GOOD["disk_health"])], "thresholds": "reallocated_warning=10"},
    )
    assert result["health"] == "warning"
    assert "/dev/sda: reallocated sectors 304 > 10" in result["reasons"]


# --- size cap: an over-size file is refused before it is read (the probe's 50 MB sdr took 207 s and 4 GB)
def test_over_size_valid_sdr_is_refused_at_once(run_module, tmp_path):
    row = fixture_text("lab/ipmitool-sdr-elist-ipmi-sim-healthy.txt")
    path = tmp_path / "sdr-elist-huge.txt"
    path.write_text(row * (MAX_INPUT_BYTES // len(row) + 1))
    start = time.monotonic()
    result = run_module(bmc_health, {"from_files": [str(path)]})
    assert time.monotonic() - start < 2
    assert result["health"] == "unknown"
    assert result["reasons"] == [
        f"cannot read {path}: {path.stat().st_size} bytes is over the {MAX_INPUT_BYTES} byte limit for a "
        "saved tool output (real outputs are far smaller: is it the right file?)"
    ]
    assert result["sensors"] == []


def test_valid_sdr_with_more_rows_than_any_bmc_is_refused_quickly(run_module, tmp_path):
    """Under the byte cap but 25,000 sensor rows (the probe's 50 MB file had a million): refused."""
    row = "CPU Temp         | 01h | ok  |  3.1 | 45 degrees C\n"
    path = tmp_path / "sdr-elist-many.txt"
    path.write_text(row * 25000)
    start = time.monotonic()
    result = run_module(bmc_health, {"from_files": [str(path)]})
    assert time.monotonic() - start < 5
    assert result["health"] == "unknown"
    assert result["reasons"][0].startswith(
        f"ipmitool output in {path}: 25000 lines: more sensors or SEL entries than any BMC holds "
        "(limit 20000)"
    )


# --- live mode: one disk whose output does not parse is unknown beside the others' real verdicts
def test_live_unreadable_disk_beside_a_failed_one(monkeypatch, run_module):
    scan = {"devices": [{"name": "/dev/fake0", "type": "sat"}, {"name": "/dev/fake1", "type": "sat"}]}
    failed = fixture_text("smartctl/sata-hdd-smart-failed-reallocated-now-pending-8.json")

    def fake_run_command(self, args, environ_update=None, **kwargs):
        if "--scan-open" in args:
            return 0, json.dumps(scan), ""
        return (8, failed, "") if args[-1] == "/dev/fake0" else (0, "garbage from a bridge\n", "")

    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/sbin/" + name)
    monkeypatch.setattr(AnsibleModule, "run_command", fake_run_command)
    result = run_module(disk_health, {"parallel": 2})
    assert result["health"] == "critical"
    assert [(d["device"], d["health"]) for d in result["disks"]] == [
        ("/dev/fake0", "critical"),
        ("/dev/fake1", "unknown"),
    ]
    assert any(
        r.startswith("/dev/fake1: smartctl output in smartctl --json -x -d sat /dev/fake1 line 1")
        for r in result["reasons"]
    )


# --- live Redfish answers of the wrong shape: unknown with the URL and what was expected, no traceback
class FakeResponse:
    def __init__(self, body):
        self.body = body.encode() if isinstance(body, str) else json.dumps(body).encode()

    def read(self, size=-1):
        return self.body if size < 0 else self.body[:size]


SYSTEM = {"@odata.id": "/redfish/v1/Systems/1", "@odata.type": "#ComputerSystem.v1_0_0.ComputerSystem"}
REDFISH_CASES = [
    (
        "root-is-a-list",
        {"/redfish/v1/": []},
        "http://bmc.test/redfish/v1/ answered list, expected a JSON object",
    ),
    (
        "root-is-html",
        {"/redfish/v1/": "<html>login</html>"},
        "Redfish request to http://bmc.test failed: Expecting",
    ),
    (
        "systems-link-string",
        {"/redfish/v1/": {"Systems": "/redfish/v1/Systems"}},
        "'Systems' is '/redfish/v1/Systems', expected {\"@odata.id\"",
    ),
    (
        "members-string",
        {
            "/redfish/v1/": {"Systems": {"@odata.id": "/redfish/v1/Systems"}},
            "/redfish/v1/Systems": {"Members": "x"},
        },
        "'Members' is 'x', expected a list of links",
    ),
    (
        "member-without-link",
        {
            "/redfish/v1/": {"Systems": {"@odata.id": "/redfish/v1/Systems"}},
            "/redfish/v1/Systems": {"Members": [1]},
        },
        "Members[0]: 'm' is 1, expected",
    ),
    (
        "status-string",
        {
            "/redfish/v1/": {"Systems": {"@odata.id": "/redfish/v1/Systems"}},
            "/redfish/v1/Systems": {"Members": [{"@odata.id": "/redfish/v1/Systems/1"}]},
            "/redfish/v1/Systems/1": dict(SYSTEM, Status="Critical"),
        },
        "redfish output in http://bmc.test/redfish/v1/Systems/1: 'ComputerSystem.Status' is 'Critical'",
    ),
]


@pytest.mark.parametrize(("answers", "message"), [pytest.param(a, m, id=c) for c, a, m in REDFISH_CASES])
def test_live_redfish_malformed_answers(monkeypatch, run_module, answers, message):
    def fake_open_url(url, **kwargs):
        return FakeResponse(answers[url.replace("http://bmc.test", "")])

    monkeypatch.setattr(rackwright_check_bmc, "open_url", fake_open_url)
    result = run_module(bmc_health, {"redfish_url": "http://bmc.test", "timeout": 1})
    assert result.get("failed") is not True
    assert result["health"] == "unknown"
    assert any(message in r for r in result["reasons"]), result["reasons"]
