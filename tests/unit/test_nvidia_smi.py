"""nvidia-smi -q -x parser against every real fixture. No real failing-GPU XML is public, so failure cases
are the real captures with single documented edits (one element's text changed)."""

import pytest
from conftest import assert_verdict, fixture_text, saved_names, saved_output

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_nvidia_smi import parse_nvidia_smi

# file -> (health, reason substring or None, driver, product name, schema)
EXPECTED = {
    "a100-sxm4-40gb-mig-enabled-driver-510.xml": ("ok", None, "510.47.03", "NVIDIA A100-SXM4-40GB", "v11"),
    "a100-sxm4-80gb-driver-535.xml": ("ok", None, "535.54.03", "NVIDIA A100-SXM4-80GB", "v12"),
    "a10g-driver-515-remapped-rows.xml": ("ok", None, "515.105.01", "NVIDIA A10G", "v11"),
    "quadro-p400-driver-418-old-schema.xml": ("ok", None, "418.43", "Quadro P400", None),
    "rtx-2080-windows-wddm-driver-516.xml": ("ok", None, "516.59", "NVIDIA GeForce RTX 2080", "v11"),
    "rtx-3080-driver-595-schema-v13.xml": ("ok", None, "595.58.03", "NVIDIA GeForce RTX 3080", "v13"),
    "rtx-4090-driver-535-clocks-event-reasons.xml": (
        "ok",
        None,
        "535.86.05",
        "NVIDIA GeForce RTX 4090",
        "v12",
    ),
    "tesla-p100-correctable-ecc-3.xml": (
        "warning",
        "correctable ECC errors 3 > 0 (volatile 0, aggregate 3)",
        "510.47.03",
        "Tesla P100-PCIE-16GB",
        "v11",
    ),
    "tesla-t4-driver-515.xml": ("ok", None, "515.105.01", "Tesla T4", "v11"),
}


@pytest.mark.parametrize("name", saved_names("nvidia-smi", EXPECTED))
def test_nvidia_fixture_verdict(name):
    text, (health, reason, driver, product, schema) = saved_output("nvidia-smi", EXPECTED, name)
    result = parse_nvidia_smi(text, name)
    assert (result["driver_version"], result["schema"]) == (driver, schema)
    gpu = result["gpus"][0]
    assert gpu["name"] == product
    assert_verdict(gpu, health, reason)


def test_old_and_new_throttle_elements():
    old = parse_nvidia_smi(fixture_text("nvidia-smi/quadro-p400-driver-418-old-schema.xml"))["gpus"][0]
    new = parse_nvidia_smi(fixture_text("nvidia-smi/rtx-4090-driver-535-clocks-event-reasons.xml"))["gpus"][0]
    assert old["throttle_reasons_active"] == ["gpu_idle"]
    assert new["throttle_reasons_active"] == ["gpu_idle"]


def test_mig_and_power_fields():
    gpu = parse_nvidia_smi(fixture_text("nvidia-smi/a100-sxm4-40gb-mig-enabled-driver-510.xml"))["gpus"][0]
    assert gpu["mig_mode"] == "Enabled"
    assert gpu["mig_devices"] == 2
    assert (
        gpu["temperature_c"] == 36
        and gpu["temperature_slowdown_c"] == 89
        and gpu["temperature_shutdown_c"] == 92
    )
    v13 = parse_nvidia_smi(fixture_text("nvidia-smi/rtx-3080-driver-595-schema-v13.xml"))["gpus"][0]
    assert v13["power_draw_w"] == 142.33 and v13["power_limit_w"] == 320.0


# (file, old text, new text, health, reason)
EDITS = [
    (
        "tesla-t4-driver-515.xml",
        "<pending_retirement>No</pending_retirement>",
        "<pending_retirement>Yes</pending_retirement>",
        "warning",
        "page retirement pending: reset the GPU or reboot",
    ),
    (
        "tesla-p100-correctable-ecc-3.xml",
        "<total>0</total>\n\t\t\t\t</double_bit>\n\t\t\t</volatile>",
        "<total>2</total>\n\t\t\t\t</double_bit>\n\t\t\t</volatile>",
        "critical",
        "uncorrectable ECC errors (volatile 2, aggregate 0)",
    ),
    (
        "a10g-driver-515-remapped-rows.xml",
        "<remapped_row_failure>No</remapped_row_failure>",
        "<remapped_row_failure>Yes</remapped_row_failure>",
        "critical",
        "row remapping failed: GPU needs replacement (RMA)",
    ),
    (
        "a10g-driver-515-remapped-rows.xml",
        "<remapped_row_pending>No</remapped_row_pending>",
        "<remapped_row_pending>Yes</remapped_row_pending>",
        "warning",
        "row remapping pending",
    ),
    (
        "rtx-4090-driver-535-clocks-event-reasons.xml",
        "<clocks_event_reason_hw_thermal_slowdown>Not Active</clocks_event_reason_hw_thermal_slowdown>",
        "<clocks_event_reason_hw_thermal_slowdown>Active</clocks_event_reason_hw_thermal_slowdown>",
        "critical",
        "clock throttling: hw thermal slowdown active",
    ),
    (
        "quadro-p400-driver-418-old-schema.xml",
        "<clocks_throttle_reason_hw_slowdown>Not Active</clocks_throttle_reason_hw_slowdown>",
        "<clocks_throttle_reason_hw_slowdown>Active</clocks_throttle_reason_hw_slowdown>",
        "warning",
        "clock throttling: hw slowdown active",
    ),
    (
        "tesla-t4-driver-515.xml",
        "<gpu_temp>40 C</gpu_temp>",
        "<gpu_temp>94 C</gpu_temp>",
        "warning",
        "temperature 94 C >= slowdown threshold 93 C",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "health", "reason"), EDITS)
def test_failure_variants(name, old, new, health, reason):
    text = fixture_text("nvidia-smi/" + name)
    assert old in text
    gpu = parse_nvidia_smi(text.replace(old, new, 1), name + " (edited)")["gpus"][0]
    assert gpu["health"] == health
    assert any(reason in r for r in gpu["reasons"]), gpu["reasons"]


def test_threshold_override():
    gpu = parse_nvidia_smi(
        fixture_text("nvidia-smi/tesla-p100-correctable-ecc-3.xml"),
        thresholds={"ecc_correctable_warning": 10},
    )["gpus"][0]
    assert gpu["health"] == "ok"


def test_entity_declarations_are_rejected():
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE nvidia_smi_log [\n<!ENTITY a "aaaaaaaaaa">\n'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n<nvidia_smi_log>&b;</nvidia_smi_log>\n'
    )
    with pytest.raises(ParseError, match="entity declarations") as info:
        parse_nvidia_smi(bomb, "bomb.xml")
    assert info.value.line == 2


def test_garbage_raises_with_line():
    with pytest.raises(ParseError) as info:
        parse_nvidia_smi("<nvidia_smi_log>\n<gpu>\n</nvidia_smi_log>\n", "broken.xml")
    assert (info.value.tool, info.value.source, info.value.line) == ("nvidia-smi", "broken.xml", 3)
    with pytest.raises(ParseError, match="expected <nvidia_smi_log>"):
        parse_nvidia_smi("<html></html>", "page.html")
