"""Make ``ansible.module_utils.rackwright_*`` and the modules importable under pytest, as Ansible does
with ``module_utils = plugins/module_utils`` and ``library = plugins/modules``."""

import importlib.util
import json
import pathlib
import sys

import ansible.module_utils
import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"

if str(ROOT / "plugins" / "module_utils") not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(str(ROOT / "plugins" / "module_utils"))
if str(ROOT / "plugins" / "modules") not in sys.path:
    sys.path.insert(0, str(ROOT / "plugins" / "modules"))


def fixture_text(relative):
    """Contents of tests/fixtures/<relative>."""
    return (FIXTURES / relative).read_text(encoding="utf-8")


def fixture_names(tool):
    """Sorted file names of tests/fixtures/<tool>/."""
    return sorted(p.name for p in (FIXTURES / tool).iterdir())


def load_filter_plugin():
    """The FilterModule file, imported under a name that cannot clash with module_utils."""
    spec = importlib.util.spec_from_file_location(
        "rackwright_filters", ROOT / "plugins" / "filter" / "rackwright_health.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
