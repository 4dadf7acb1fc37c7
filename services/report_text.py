"""The fixed text of a progress report in English, French and Spanish.

Messages are gettext catalogs (`services/locale/<lang>/LC_MESSAGES/reports.po`, compiled `.mo` committed
next to them: `python scripts/compile_catalogs.py` after editing a `.po`); English is the message ids
themselves. Dates are written the UN way ("17 November 2009", "17 novembre 2009", "17 de noviembre
de 2009") from Babel's CLDR month names. Content entered by people (activity and action texts,
meeting titles) is never translated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path

from babel.dates import format_date
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "reports"


class Language(StrEnum):
    EN = "en"
    FR = "fr"
    ES = "es"


LANGUAGES = tuple(language.value for language in Language)
# (day month year, day month) as UN documents write them in each language
_DATE_PATTERNS = {
    Language.EN: ("d MMMM y", "d MMMM"),
    Language.FR: ("d MMMM y", "d MMMM"),
    Language.ES: ("d 'de' MMMM 'de' y", "d 'de' MMMM"),
}


@lru_cache
def translations(lang: str) -> NullTranslations:
    """The catalog of `lang` (English: the message ids)."""
    if Language(lang) is Language.EN:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [lang], domain=DOMAIN)


class Text:
    """Translate with `text("msgid", name=value)`; `{name}` placeholders are filled after lookup."""

    def __init__(self, lang: str) -> None:
        self.lang = Language(lang).value
        self._catalog = translations(self.lang)

    def __call__(self, message: str, **values: object) -> str:
        translated = self._catalog.gettext(message)
        return translated.format(**values) if values else translated

    def day(self, value: date) -> str:
        return format_date(value, _DATE_PATTERNS[Language(self.lang)][0], locale=self.lang)

    def period(self, starts_on: date, ends_on: date) -> str:
        """'22–24 February 2010', '28 April–10 May 2011', '28 December 2010–2 January 2011'."""
        if starts_on == ends_on:
            return self.day(ends_on)
        if (starts_on.year, starts_on.month) == (ends_on.year, ends_on.month):
            return f"{starts_on.day}–{self.day(ends_on)}"
        if starts_on.year == ends_on.year:
            start = format_date(starts_on, _DATE_PATTERNS[Language(self.lang)][1], locale=self.lang)
            return f"{start}–{self.day(ends_on)}"
        return f"{self.day(starts_on)}–{self.day(ends_on)}"

    def enumerate(self, items: Sequence[str]) -> str:
        """'a', 'a and b', 'a, b and c' in the language."""
        if len(items) <= 1:
            return "".join(items)
        return ", ".join(items[:-1]) + self(" and ") + items[-1]


__all__ = ["DOMAIN", "LANGUAGES", "LOCALE_DIR", "Language", "Text", "translations"]
