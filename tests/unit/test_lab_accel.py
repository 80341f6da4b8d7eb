"""The lab's accelerator choice: forced by $RACKWRIGHT_LAB_ACCEL, else probed; bad values are named."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))
from rackwright_lab import accel  # noqa: E402
from rackwright_lab.util import LabError  # noqa: E402


def test_forced_tcg_skips_the_probe(monkeypatch, tmp_path):
    monkeypatch.setenv("RACKWRIGHT_LAB_ACCEL", "tcg")
    monkeypatch.setattr(accel, "_probe", lambda *a: pytest.fail("probed although TCG was forced"))
    assert accel.choose("qemu-system-x86_64", tmp_path / "vmlinuz") == ("tcg", "RACKWRIGHT_LAB_ACCEL=tcg")


def test_bad_value_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("RACKWRIGHT_LAB_ACCEL", "hvf")
    with pytest.raises(LabError, match="RACKWRIGHT_LAB_ACCEL='hvf': expected kvm, tcg or auto"):
        accel.choose("qemu-system-x86_64", tmp_path / "vmlinuz")


def test_probe_answer_is_cached_per_boot(monkeypatch, tmp_path):
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"k" * 10)
    monkeypatch.setenv("RACKWRIGHT_LAB_ACCEL", "auto")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(accel.os, "access", lambda *a: True)
    calls = []
    monkeypatch.setattr(accel, "_probe", lambda *a: calls.append(a) or (False, "a KVM test boot failed (x)"))
    first = accel.choose("qemu-system-x86_64", kernel)
    second = accel.choose("qemu-system-x86_64", kernel)
    assert first == ("tcg", "a KVM test boot failed (x)") and second[0] == "tcg" and len(calls) == 1
    assert "probed earlier in this boot" in second[1]
    assert accel.TIME_SCALE["tcg"] > accel.TIME_SCALE["kvm"]
