# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Self-contained HTML pages (inline CSS and SVG, no network) from the templates beside this file: the one
Jinja2 environment the progress page and the reports share, autoescaping everything they print."""

import functools
import os
from datetime import datetime

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def duration(seconds):
    """'1 h 05 min', '4 min 10 s', '12 s'."""
    seconds = int(max(0, seconds or 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def since(start, end):
    """The seconds between two ISO 8601 times."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


@functools.lru_cache(maxsize=1)
def environment():
    """The one environment, made once per process: its templates are parsed once (a progress page is rewritten
    many times in a run)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["duration"] = duration
    env.globals["since"] = since
    return env


def render(template, **values):
    return environment().get_template(template).render(**values)
