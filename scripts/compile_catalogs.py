"""Compile the report's message catalogs: services/locale/<lang>/LC_MESSAGES/reports.po -> reports.mo.

The .mo files are committed next to the .po files (the app reads them; a fresh clone or an installed
wheel needs no build step): run this after editing a .po and commit both. tests/test_report_i18n.py
fails when a .mo is out of date with its .po.
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "services" / "locale"


def compiled(po_path: Path) -> bytes:
    with po_path.open("rb") as source:
        catalog = read_po(source)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def main() -> None:
    for po_path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        po_path.with_suffix(".mo").write_bytes(compiled(po_path))
        print(f"compiled {po_path.relative_to(LOCALE_DIR.parent.parent)}")


if __name__ == "__main__":
    main()
