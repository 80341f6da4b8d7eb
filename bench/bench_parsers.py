"""Parse 10,000 saved reports of each kind (cycling over tests/fixtures) on one core and print reports/second.

Run from the repository root: ``.venv/bin/python -m bench.bench_parsers [reports]`` (``-m`` puts the root,
and with it ``ansible_collections/rackwright/infra``, on the import path).
Prints a table, asserts nothing.
"""

import pathlib
import sys
import time

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_dmidecode import parse_dmidecode
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_ipmitool import parse_ipmi
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_mdstat import (
    parse_mdadm_detail,
    parse_mdstat,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_nvidia_smi import parse_nvidia_smi
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_nvme import parse_smart_log
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_redfish import parse_redfish
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_smartctl import parse_smartctl_json
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_ssacli import parse_ssacli
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storcli import parse_storcli

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
PARSERS = (
    ("smartctl JSON", "smartctl", "*.json", parse_smartctl_json),
    ("nvme smart-log", "nvme", "smart-log-*.json", parse_smart_log),
    ("mdstat", "mdstat", "*.txt", parse_mdstat),
    ("mdadm --detail", "mdadm", "*.txt", parse_mdadm_detail),
    ("storcli", "storcli", "*", parse_storcli),
    ("ssacli", "ssacli", "*.txt", parse_ssacli),
    ("ipmitool/FreeIPMI", "ipmitool", "*.txt", parse_ipmi),
    ("redfish", "redfish", "*.json", parse_redfish),
    ("nvidia-smi XML", "nvidia-smi", "*.xml", parse_nvidia_smi),
    ("dmidecode", "dmidecode", "*.txt", parse_dmidecode),
)


def bench(parser, texts, reports):
    start = time.perf_counter()
    for index in range(reports):
        text, name = texts[index % len(texts)]
        parser(text, name)
    return time.perf_counter() - start


def main():
    reports = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    print(f"{'parser':<20} {'files':>5} {'avg KiB':>8} {'reports':>8} {'seconds':>8} {'reports/s':>10}")
    print("-" * 64)
    for label, folder, pattern, parser in PARSERS:
        texts = [(p.read_text(encoding="utf-8"), p.name) for p in sorted((FIXTURES / folder).glob(pattern))]
        size = sum(len(t) for t, _ in texts) / len(texts) / 1024
        seconds = bench(parser, texts, reports)
        rate = reports / seconds
        print(f"{label:<20} {len(texts):>5} {size:>8.1f} {reports:>8} {seconds:>8.2f} {rate:>10,.0f}")


if __name__ == "__main__":
    main()
