"""The README's error table lists every answer the gateway can give: each error class's status
and code appear together in one row."""

from __future__ import annotations

import re

import pytest

import api.backends.base
import api.backends.guard
import api.server  # noqa: F401  (the HTTP layer's errors)
from api.errors import GatewayError
from settings import PROJECT_ROOT


def _every_error(cls: type[GatewayError]) -> list[type[GatewayError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_every_error(sub)]
    return found


def _table_rows() -> dict[str, set[int]]:
    """code -> the statuses its rows name, from `| 400, 414 | `code` | ...` rows."""
    rows: dict[str, set[int]] = {}
    for line in (PROJECT_ROOT / "README.md").read_text().splitlines():
        match = re.match(r"^\| ([\d, ]+) \| `([a-z_]+)` \|", line)
        if match:
            statuses = {int(s) for s in match.group(1).split(",")}
            rows.setdefault(match.group(2), set()).update(statuses)
    return rows


@pytest.mark.parametrize("error", _every_error(GatewayError), ids=lambda e: e.__name__)
def test_every_error_is_in_the_readme_table(error: type[GatewayError]) -> None:
    rows = _table_rows()
    assert error.code in rows, f"README error table has no row for `{error.code}`"
    assert error.status_code in rows[error.code], (
        f"README lists `{error.code}` as {sorted(rows[error.code])}, not {error.status_code}"
    )
