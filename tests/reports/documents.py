"""Reading rendered COP reports back: the text of a DOCX and of each PDF page."""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from pypdf import PdfReader


def docx_text(content: bytes) -> tuple[Any, list[str]]:
    document = Document(io.BytesIO(content))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                texts.extend(p.text for p in cell.paragraphs)
    return document, texts


def pdf_pages(content: bytes) -> list[str]:
    """Each page's text, its line breaks and runs of spaces made single spaces."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages]
