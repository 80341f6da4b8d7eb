"""Shared helpers. Tests import the collection as ``ansible_collections.rackwright.infra``:
the repository root through the ``ansible_collections/rackwright/infra`` symlink (pyproject.toml puts the
root on the path)."""

import atexit
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import worst

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The progress pages of the tests' ansible-playbook runs (plugins/callback/progress.py) go to a directory of
# their own, not among the reports of the runs people make; tests that read them find it here.
# A directory made here is removed when the session ends.
if "RACKWRIGHT_RUNS_DIR" not in os.environ:
    os.environ["RACKWRIGHT_RUNS_DIR"] = tempfile.mkdtemp(prefix="rackwright-test-runs-")
    atexit.register(shutil.rmtree, os.environ["RACKWRIGHT_RUNS_DIR"], ignore_errors=True)
RUNS_DIR = pathlib.Path(os.environ["RACKWRIGHT_RUNS_DIR"])
FIXTURES = ROOT / "tests" / "fixtures"
# File names a copy or a manifest gets wrong when it treats names as text lines: spaces, a newline, bytes that
# are not UTF-8, a percent sign (the manifest's escape character), multi-byte UTF-8.
ODD_NAMES = [
    b"name with spaces",
    b"new\nline",
    b"not-utf8-\xff\xfe",
    b"100% sure",
    "caf\u00e9-\u2603".encode(),
]
BIN = pathlib.Path(sys.executable).parent
ANSIBLE_PLAYBOOK = str(BIN / "ansible-playbook")
# Ansible as a user runs the collection's modules: the repository's ansible.cfg bypassed (an empty one
# instead), the collection found through the ansible_collections/rackwright/infra link at the root, and
# json output.
ADHOC_ENV = dict(
    os.environ,
    ANSIBLE_CONFIG=str(ROOT / "tests" / "empty-ansible.cfg"),
    ANSIBLE_COLLECTIONS_PATH=str(ROOT),
    ANSIBLE_STDOUT_CALLBACK="json",
    ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
    ANSIBLE_NOCOLOR="1",
    ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    ANSIBLE_LOCALHOST_WARNING="0",
    ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
)


def on_localhost(binary, *args):
    """Run the Ansible command BINARY (ansible, ansible-playbook) with ARGS on localhost, local connection."""
    return subprocess.run(
        [binary, "-i", "localhost,", "-c", "local", *args],
        capture_output=True,
        text=True,
        env=ADHOC_ENV,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def plays(proc):
    """The plays of the json callback's document (anything printed before it is skipped)."""
    return json.loads(proc.stdout[proc.stdout.index("{") :])["plays"]


def ansible(module, args, *options):
    """Run the collection's MODULE on localhost ad hoc (OPTIONS: e.g. --check); returns (host result, combined
    output)."""
    adhoc = ["localhost", *options, "-m", f"rackwright.infra.{module}", "-a", json.dumps(args)]
    proc = on_localhost(str(BIN / "ansible"), *adhoc)
    return plays(proc)[0]["tasks"][0]["hosts"]["localhost"], proc.stdout + proc.stderr


def run_role(role, extra_vars, tasks_from="main"):
    """Run rackwright.infra.ROLE's TASKS_FROM entry point on localhost in check mode (validation fails before
    any change)."""
    playbook = (
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_role:\n"
        f"        name: rackwright.infra.{role}\n        tasks_from: {tasks_from}\n"
    )
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local"]
    cmd.append("--check")
    for item in extra_vars:
        cmd += ["-e", item]
    cmd += ["-e", f"ansible_python_interpreter={sys.executable}", "/dev/stdin"]
    return subprocess.run(
        cmd, input=playbook, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120
    )


def fixture_text(relative):
    """Contents of tests/fixtures/<relative>."""
    return (FIXTURES / relative).read_text(encoding="utf-8")


def fixture_names(tool):
    """Sorted file names of tests/fixtures/<tool>/."""
    return sorted(p.name for p in (FIXTURES / tool).iterdir())


def saved_names(tool, expected):
    """Every file of tests/fixtures/<tool>/ and every key of EXPECTED (file name -> what it must give).

    Parametrize a test over these and read each with saved_output(): a fixture nobody judges, or an
    expectation whose file is gone, is then a failing case of its own name.
    """
    return sorted(set(fixture_names(tool)) | set(expected))


def saved_output(tool, expected, name):
    """``(text, expected[name])`` of tests/fixtures/<tool>/<name>; fails naming the file if one is missing."""
    assert name in expected, f"tests/fixtures/{tool}/{name} has no expectation"
    assert (FIXTURES / tool / name).is_file(), f"tests/fixtures/{tool}/{name} is expected but not there"
    return fixture_text(f"{tool}/{name}"), expected[name]


def assert_reasons(reasons, reason):
    """No REASONS when REASON is None, else one of them contains REASON."""
    if reason is None:
        assert reasons == []
    else:
        assert any(reason in r for r in reasons), reasons


def assert_verdict(judged, health, reason):
    """JUDGED (a module result, or one parsed item) has HEALTH and its reasons REASON (see assert_reasons)."""
    assert judged["health"] == health, judged["reasons"]
    assert_reasons(judged["reasons"], reason)


def assert_worst(items, health, reason):
    """The worst health of ITEMS is HEALTH, and their reasons together REASON (see assert_reasons)."""
    reasons = [r for item in items for r in item["reasons"]]
    assert worst(item["health"] for item in items) == health, reasons
    assert_reasons(reasons, reason)


def load_script(path):
    """A stand-alone script (one a role copies to hosts, not a module of the collection), loaded from its file
    as the host runs it."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(path, *args, timeout):
    """Run the stand-alone script PATH with python3 and ARGS, as its host does; output captured as text."""
    return subprocess.run(
        ["python3", str(path), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def run_module(monkeypatch, capsys):
    """Run a module's main() in-process with the given args; returns the JSON result."""

    def runner(module, args):
        monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
        monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")
        with pytest.raises(SystemExit):
            module.main()
        return json.loads(capsys.readouterr().out)

    return runner
