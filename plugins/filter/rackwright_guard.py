# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The typed confirmation every destructive rackwright action rests on.

Filters, because a filter runs wherever Ansible templates, and the places used here are templated on the
controller whatever `--limit`, `--tags` or `--start-at-task` say (the inventory gate, its sibling, is
`inventory_gate` in rackwright_inventory.py):

- `confirmed_hosts` turns a typed confirmation into the play's host list (exact inventory host names
  only), and `confirm_play_hosts` is the `when:` of the block that wraps a destructive role entry point,
  so every task of it, whichever task a run starts at, re-checks that the confirmation names exactly the
  hosts in play.
"""

import fnmatch
import re
from collections.abc import Mapping, Sequence

from ansible import context
from ansible.errors import AnsibleFilterError

# Anything Ansible would read as a host pattern rather than one host's name.
_PATTERN_CHARS = re.compile(r"[*?\[\]!&:~^,\s]")


def _say(value):
    """VALUE and its type in YAML's words (Ansible hands filters its own lazy list/dict types)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, (int, float)):
        kind = "a number"
    elif isinstance(value, Mapping):
        kind, value = "a mapping", dict(value)
    elif isinstance(value, Sequence):
        kind, value = "a list", list(value)
    else:
        kind = f"a {type(value).__name__}"
    return f"{kind} ({value!r})"


def _split(confirmation, var, action, hint):
    """The host names a confirmation string lists, or an error saying what to type."""
    how = f"Type the exact host name(s), comma-separated: -e {var}={hint}"
    if confirmation is None or (isinstance(confirmation, str) and not confirmation.strip()):
        raise AnsibleFilterError(f"Refusing to {action}: {var} is not set. {how}")
    if not isinstance(confirmation, str):
        raise AnsibleFilterError(
            f"Refusing to {action}: {var} must be a string, got {_say(confirmation)}. {how}"
        )
    names = [n.strip() for n in confirmation.split(",")]
    if any(n in ("all", "ungrouped") for n in names):
        raise AnsibleFilterError(
            f"Refusing to {action}: {var}={confirmation!r} names a group, not hosts. {how}"
        )
    bad = [n for n in names if not n or _PATTERN_CHARS.search(n)]
    if bad:
        raise AnsibleFilterError(
            f"Refusing to {action}: {var}={confirmation!r} holds a host pattern or an empty name "
            f"({', '.join(repr(b) for b in bad)}), not exact host names. {how}"
        )
    return names


def confirmed_hosts(
    confirmation, inventory_hosts, var="confirm", action="run a destructive action", groups=None
):
    """The exact inventory host names CONFIRMATION lists, for a play's hosts: keyword.

    Refused: unset, not a string, a pattern (wildcard, regex, range, group operators), a group name
    (`all` included), or a name that is not a host of the inventory.
    """
    if context.CLIARGS.get("syntax") and confirmation is None:
        return ["!all"]  # --syntax-check and ansible-lint template play hosts, run nothing: match no host
    known = list(inventory_hosts or [])
    typed = confirmation if isinstance(confirmation, str) else ""
    matches = sorted(
        {h for h in known for n in typed.split(",") if n.strip() and fnmatch.fnmatch(h, n.strip())}
    )
    hint = ",".join(matches) if matches and typed.strip() not in ("all", "*") else "<host>[,<host>...]"
    names = _split(confirmation, var, action, hint)
    group_names = [n for n in names if n in (groups or {}) and n not in known]
    if group_names or any(n in ("all", "ungrouped") for n in names):
        members = sorted({h for g in group_names for h in (groups or {}).get(g, [])})
        hint = ",".join(members) if members and len(members) <= 20 else "<host>[,<host>...]"
        raise AnsibleFilterError(
            f"Refusing to {action}: {var}={confirmation!r} names a group, not hosts. "
            f"Type the exact host name(s), comma-separated: -e {var}={hint}"
        )
    unknown = [n for n in names if n not in known]
    if unknown:
        raise AnsibleFilterError(
            f"Refusing to {action}: {var} names {', '.join(repr(u) for u in unknown)}, not a host of this "
            f"inventory. Type the exact host name(s), comma-separated: -e {var}=<host>[,<host>...]"
        )
    return sorted(set(names))


def confirm_play_hosts(confirmation, play_hosts, var="confirm", action="run a destructive action"):
    """True when CONFIRMATION names exactly PLAY_HOSTS (the hosts this play changes); otherwise an error."""
    in_play = sorted(set(play_hosts or []))
    hint = ",".join(in_play) or "<host>"
    names = set(_split(confirmation, var, action, hint))
    if names != set(in_play):
        extra, missing = sorted(names - set(in_play)), sorted(set(in_play) - names)
        parts = []
        if missing:
            parts.append(f"this play would also change {', '.join(missing)}")
        if extra:
            parts.append(
                f"{', '.join(extra)} {'is' if len(extra) == 1 else 'are'} not in this play (--limit?)"
            )
        raise AnsibleFilterError(
            f"Refusing to {action}: {var}={confirmation!r} does not name exactly the hosts in play "
            f"({'; '.join(parts)}). To go ahead on exactly these hosts, type: -e {var}={hint}"
        )
    return True


class FilterModule:
    def filters(self):
        return {
            "confirmed_hosts": confirmed_hosts,
            "confirm_play_hosts": confirm_play_hosts,
        }
