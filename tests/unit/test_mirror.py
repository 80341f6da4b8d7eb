"""Where images come from: $DEBIAN_MIRROR, else this machine's own Debian apt sources, else a clear error."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))
from rackwright_lab.mirror import MirrorError, debian_mirror  # noqa: E402

DEBIAN_822 = """Types: deb
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
"""
UBUNTU_822 = (
    "Types: deb\nURIs: http://archive.invalid/ubuntu\nSuites: noble noble-updates\nComponents: main\n"
)


def apt(tmp_path, sources=None, one_line=None):
    (tmp_path / "sources.list.d").mkdir()
    if sources:
        (tmp_path / "sources.list.d" / "x.sources").write_text(sources)
    if one_line:
        (tmp_path / "sources.list").write_text(one_line)
    return tmp_path


def test_debian_sources_give_the_archive_not_the_security_one(tmp_path):
    security_first = DEBIAN_822.split("\n\n")[1] + "\n" + DEBIAN_822.split("\n\n", maxsplit=1)[0]
    assert debian_mirror(apt(tmp_path, security_first), environ={}) == "http://mirror.invalid/debian"


def test_one_line_sources(tmp_path):
    lines = "deb http://mirror.invalid/debian-security bookworm-security main\n"
    lines += "deb [arch=amd64] http://mirror.invalid/debian trixie main\n"
    assert debian_mirror(apt(tmp_path, one_line=lines), environ={}) == "http://mirror.invalid/debian"


def test_variable_wins(tmp_path):
    env = {"DEBIAN_MIRROR": "http://other.invalid/debian"}
    assert debian_mirror(apt(tmp_path, DEBIAN_822), environ=env) == "http://other.invalid/debian"


@pytest.mark.parametrize("sources", [UBUNTU_822, None])
def test_no_debian_archive_names_the_variable(tmp_path, sources):
    with pytest.raises(MirrorError) as err:
        debian_mirror(apt(tmp_path, sources), environ={"DEBIAN_MIRROR": " "})
    assert "Set DEBIAN_MIRROR to the URL of a Debian mirror" in str(err.value)
    assert ("noble" in str(err.value)) == (sources is not None)
