"""Pilot countries are ISO 3166-1 countries, stored as alpha-2 codes; people may give a code or a
name (pycountry's list, which ships with the package: no download)."""

from __future__ import annotations

from typing import Annotated

import pycountry
from pydantic import AfterValidator, StringConstraints


def country_code(value: str) -> str:
    """The alpha-2 code of a country given by its alpha-2, alpha-3 or numeric code or its name."""
    try:
        return str(pycountry.countries.lookup(value.strip()).alpha_2)
    except LookupError:
        raise ValueError(
            f"{value!r} is not an ISO 3166-1 country: give its code (e.g. GH or GHA) or its name (Ghana)"
        ) from None


# The longest official country name is under 60 characters.
CountryCode = Annotated[str, StringConstraints(max_length=100), AfterValidator(country_code)]
