"""The fast email check answers exactly as pydantic's EmailStr (email-validator) does."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, EmailStr, ValidationError

from services.common.emails import Email, _plain


class Fast(BaseModel):
    email: Email


class Library(BaseModel):
    email: EmailStr


ADDRESSES = [
    "anna@example.nl",
    "Anna.de.Vries+news@Example.NL",
    "a!#$%&'*+/=?^_`{|}~-b@sub.domain.example.com",
    "x@a-b.co",
    "o'brien@example.ie",
    "  padded@example.nl  ",
    "Anna <anna@example.nl>",
    "ünïcode@example.nl",
    "anna@bücher.example",
    "anna@xn--bcher-kva.example",
    '"quoted local"@example.nl',
    "anna@localhost",
    "anna@host.local",
    "anna@printer.test",
    "anna@something.invalid",
    "anna@example",
    "anna@example.123",
    "anna@-bad.example.nl",
    "anna@bad-.example.nl",
    "anna..dots@example.nl",
    ".anna@example.nl",
    "anna.@example.nl",
    "anna@@example.nl",
    "anna@exa_mple.nl",
    "@example.nl",
    "anna@",
    "",
    "a" * 64 + "@example.nl",
    "a" * 65 + "@example.nl",
    "anna@" + "b" * 63 + ".nl",
    "anna@" + "b" * 64 + ".nl",
    "anna@" + ".".join(["c" * 60] * 4) + ".nl",
    "anna@[192.168.0.1]",
    "anna@1.2.3.4",
    "anna\n@example.nl",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_same_answer_as_email_validator(address: str) -> None:
    try:
        expected: str | None = Library(email=address).email
    except ValidationError:
        expected = None
    try:
        got: str | None = Fast(email=address).email
    except ValidationError:
        got = None
    assert got == expected


def test_the_common_case_skips_the_library() -> None:
    assert _plain("Anna.de.Vries@Example.NL") == "Anna.de.Vries@example.nl"
    assert _plain("anna@bücher.example") is None  # the library decides
    assert _plain("anna@printer.test") is None
