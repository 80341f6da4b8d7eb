"""Render each role's variables table in its README from meta/argument_specs.yml.

The table sits between the BEGIN/END markers in roles/<role>/README.md, so the
README cannot drift from the validated inputs. `--check` (run by `make lint`)
exits 1 naming any README that is out of date; without it the READMEs are rewritten.
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN ARGUMENT SPECS -->", "<!-- END ARGUMENT SPECS -->"


def cell(value) -> str:
    text = " ".join(value) if isinstance(value, list) else str(value)
    text = re.sub(r"\b[OCV]\(([^)]*)\)", r"`\1`", text)
    return text.replace("|", "\\|").replace("\n", " ").strip()


def default_text(spec: dict) -> str:
    if spec.get("required"):
        return "(required)"
    if "default" not in spec:
        return "see defaults/main.yml"
    return (
        "`"
        + yaml.safe_dump(spec["default"], default_flow_style=True).strip().removesuffix("...").strip()
        + "`"
    )


def drift(role: Path, specs: dict) -> list[str]:
    """Variables in defaults/main.yml that no entry point declares, or one declares with another default."""
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) or {} if defaults_file.exists() else {}
    declared = {name for spec in specs.values() for name in spec.get("options", {})}
    spec_file = "meta/argument_specs.yml"
    problems = [f"{defaults_file}: {name} is not in {spec_file}" for name in defaults if name not in declared]
    for entry, spec in specs.items():
        for name, option in spec.get("options", {}).items():
            if "default" in option and name in defaults and option["default"] != defaults[name]:
                problems.append(f"{defaults_file}: {name} default differs from {spec_file} ({entry})")
    return problems


def rows(options: dict, prefix: str = "") -> list[str]:
    lines = []
    for name, spec in options.items():
        kind = spec.get("type", "str")
        if spec.get("elements"):
            kind += f" of {spec['elements']}"
        default = default_text(spec)
        if "choices" in spec:
            kind += f" ({', '.join(map(str, spec['choices']))})"
        lines.append(f"| `{prefix}{name}` | {kind} | {cell(default)} | {cell(spec.get('description', ''))} |")
        if spec.get("options"):
            lines.extend(rows(spec["options"], prefix=f"{prefix}{name}[]."))
    return lines


def render(spec_path: Path) -> str:
    specs = yaml.safe_load(spec_path.read_text())["argument_specs"]
    out = []
    for entry, spec in specs.items():
        out += [f"### Entry point `{entry}`", "", cell(spec.get("short_description", "")), ""]
        out += ["| variable | type | default | description |", "| --- | --- | --- | --- |"]
        out += rows(spec.get("options", {}))
        out.append("")
    return "\n".join(out)


def main(check: bool) -> int:
    stale = []
    for spec_path in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        role = spec_path.parent.parent
        stale += drift(role, yaml.safe_load(spec_path.read_text())["argument_specs"])
        readme = role / "README.md"
        text = (
            readme.read_text() if readme.exists() else f"# {spec_path.parent.parent.name}\n\n{BEGIN}\n{END}\n"
        )
        if BEGIN not in text or END not in text:
            stale.append(f"{readme}: missing the {BEGIN} / {END} markers")
            continue
        head, rest = text.split(BEGIN, 1)
        new = f"{head}{BEGIN}\n{render(spec_path)}{END}{rest.split(END, 1)[1]}"
        if new != text:
            if check:
                stale.append(f"{readme}: variables table is out of date; run `make docs`")
            else:
                readme.write_text(new)
                print(f"updated {readme.relative_to(ROOT)}")
    for line in stale:
        print(f"role docs: {line}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv[1:]))
