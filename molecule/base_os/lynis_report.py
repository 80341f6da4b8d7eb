"""Read a Lynis run for Molecule's verify; runs inside the container (python3 only).

`summary REPORT LOG` prints JSON: the hardening index, Lynis's version, its warnings and
suggestions, and the hardening points each test did not award (from the log), so a
failing index says where the points went.
`sysctl PROFILE ROLE_FILE` prints JSON: the Linux keys of Lynis's scan profile (those this
kernel has under /proc/sys) whose value in the role's sysctl.d file differs from what the
profile expects, or that the file does not set.
"""

import json
import re
import sys
from collections import Counter
from pathlib import Path

PARTIAL = re.compile(r"partial number of hardening points \((\d+) of (\d+)\)")
TEST = re.compile(r"Performing test ID (\S+)")


def lines(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()


def report_values(path: str) -> dict:
    values: dict = {"warning": [], "suggestion": []}
    for line in lines(path):
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key in ("warning[]", "suggestion[]"):
            test, text = (value.split("|") + [""])[:2]
            values[key[:-2]].append(f"{test}: {text}")
        elif key in ("hardening_index", "lynis_version", "tests_executed", "tests_skipped"):
            values[key] = value
    return values


def lost_points(path: str) -> dict:
    lost: Counter = Counter()
    test = "?"
    for line in lines(path):
        if match := TEST.search(line):
            test = match.group(1)
        elif match := PARTIAL.search(line):
            lost[test] += int(match.group(2)) - int(match.group(1))
    return {test: points for test, points in lost.most_common() if points}


def summary(report: str, log: str) -> dict:
    values = report_values(report)
    if "hardening_index" not in values:
        sys.exit(f"lynis_report: no hardening_index in {report}; did Lynis finish?")
    values["hardening_index"] = int(values["hardening_index"])
    values["lost_points"] = lost_points(log)
    return values


def sysctl(profile: str, role_file: str) -> dict:
    role = {}
    for line in lines(role_file):
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            role[key.strip()] = value.strip()
    checked, differ = [], {}
    for line in lines(profile):
        if not line.startswith("config-data=sysctl;"):
            continue
        fields = line.split(";")
        key, expected = fields[1], fields[2].split("|")
        if not Path("/proc/sys", *key.split(".")).exists():
            continue
        checked.append(key)
        if role.get(key) not in expected:
            differ[key] = {"expected": "|".join(expected), "role": role.get(key, "(not set)")}
    return {"checked": checked, "differ": differ}


def main() -> None:
    command, *args = sys.argv[1:] or [""]
    if command == "summary" and len(args) == 2:
        print(json.dumps(summary(*args)))
    elif command == "sysctl" and len(args) == 2:
        print(json.dumps(sysctl(*args)))
    else:
        sys.exit("usage: lynis_report.py summary REPORT LOG | sysctl PROFILE ROLE_FILE")


if __name__ == "__main__":
    main()
