"""Cells for CSV and spreadsheet exports, safe to open in Excel or LibreOffice.

OWASP's guidance on CSV injection: a cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return is read as a formula; prefixing it with a single quote makes it plain text.
"""

from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """The value as a spreadsheet will show it, never as a formula (numbers and dates pass)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
