"""Check offline that the installed Ansible collections satisfy requirements.yml.

Galaxy is not reachable from the build machines, so instead of installing we
verify the collections bundled with the pinned `ansible` package. Exits 1 with
one line per problem, naming the collection and what to do.
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml
from ansible.module_utils.compat.version import LooseVersion


def installed_collections() -> dict[str, str]:
    """Return {name: version} of the collections ansible-galaxy can see."""
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    out = subprocess.run(
        [str(galaxy), "collection", "list", "--format", "json"], capture_output=True, text=True, check=True
    )
    found: dict[str, str] = {}
    for path_entries in json.loads(out.stdout).values():
        for name, info in path_entries.items():
            found.setdefault(name, info["version"])
    return found


def satisfies(version: str, spec: str) -> bool:
    """True when version matches a comma-separated range such as '>=2.0.0,<3.0.0'."""
    ops = {
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
    }
    have = LooseVersion(version)
    for clause in (c.strip() for c in spec.split(",") if c.strip()):
        op = next((o for o in ops if clause.startswith(o)), "==")
        want = LooseVersion(clause[len(op) :].strip() if clause.startswith(op) else clause)
        if not ops[op](have, want):
            return False
    return True


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        wanted = yaml.safe_load(handle).get("collections", [])
    have = installed_collections()
    problems = []
    for entry in wanted:
        name, spec = entry["name"], str(entry.get("version", "*"))
        if name not in have:
            problems.append(
                f"collection {name} ({spec}) is not installed: check the `ansible` pin in requirements.txt"
            )
        elif spec != "*" and not satisfies(have[name], spec):
            problems.append(f"collection {name} {have[name]} does not satisfy {spec} from {path}")
    for line in problems:
        print(f"setup: {line}", file=sys.stderr)
    if not problems:
        print(f"collections ok: {len(wanted)} from {path} satisfied offline")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements.yml"))
