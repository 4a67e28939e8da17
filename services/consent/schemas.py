"""API shapes of the consent service. Field names in errors are the ones a caller sent."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic.config import JsonDict

from services.common.emails import Email
from services.common.moments import Age
from services.consent.domain import Channel, DataCategory, LegalBasis

PURPOSE_MARK = "x-purpose-id"
PurposeId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=60,
        description="A purpose of purposes.json (GET /v1/purposes); the document lists them as an enum",
        json_schema_extra={PURPOSE_MARK: True},
    ),
]

BROWSER_ID = Field(
    None,
    min_length=8,
    max_length=128,
    pattern=r"^[A-Za-z0-9_\-]+$",
    description="An anonymous id the site keeps in a first-party cookie",
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Notice(Strict):
    """The text shown when asking: the statement's version and the SHA-256 of the exact text."""

    version: str = Field(min_length=1, max_length=100)
    hash: str = Field(pattern=r"^(sha256:)?[0-9a-f]{64}$", description="SHA-256 (hex) of the notice text")


class NoticeTextIn(Strict):
    """A text the company shows outside the banner (a form's own words, a phone script, a paper form)."""

    version: str = Field(min_length=1, max_length=100)
    lang: Literal["nl", "en"] = "nl"
    text: str = Field(min_length=1, max_length=20_000, description="the words as the person reads them")
    labels: dict[str, str] = Field(
        default_factory=dict, max_length=50, description="the form's consent boxes: purpose -> label"
    )


class PurposeChoice(Strict):
    purpose: PurposeId
    granted: StrictBool = Field(description="JSON true or false: a consent is an unambiguous act (GDPR 4(11))")
    third_party: str | None = Field(None, max_length=200, description="Required for third_party_sharing")
    legal_basis: LegalBasis | None = Field(None, description="If given, must be the purpose's configured basis")
    over_gpc: StrictBool = Field(
        False,
        description="The person chose this themselves although their browser sends Global Privacy Control "
        "(a purpose GPC objects to is otherwise refused with reason gpc)",
    )


IDENTIFIED: JsonDict = {"anyOf": [{"required": ["email"]}, {"required": ["browser_id"]}]}  # who: one of the two


class CaptureIn(Strict):
    # the cross-field rules JSON Schema can say, said there too (the validator below says the rest)
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={**IDENTIFIED, "dependentRequired": {"kvk_number": ["company_name"]}}
    )

    email: Email | None = None
    browser_id: str | None = BROWSER_ID
    name: str | None = Field(None, max_length=200)
    purposes: list[PurposeChoice] = Field(min_length=1, max_length=20)
    channel: Channel
    data_categories: list[DataCategory] = Field(default_factory=list, max_length=20)
    notice: Notice
    page: str | None = Field(None, max_length=2000, description="Page or form URL; default: the Referer header")
    language: Literal["nl", "en"] = Field("nl", description="The page's language: mails to the person use it first")
    age: Age | None = None
    date_of_birth: date | None = None
    parent_email: Email | None = Field(None, description="Required when the person is under 16")
    note: str | None = Field(None, max_length=2000, description="Staff: how and where consent was given")
    # statement Art. 3.2c / Art. 4: the payment form's company details, checked against the KvK register
    kvk_number: str | None = Field(None, pattern=r"^[0-9]{8}$", description="KvK number: 8 digits")
    company_name: str | None = Field(None, max_length=200)
    postcode: str | None = Field(None, pattern=r"^[1-9][0-9]{3} ?[A-Za-z]{2}$", description="Dutch postcode")
    house_number: str | None = Field(None, max_length=10)

    @model_validator(mode="after")
    def _identified(self) -> CaptureIn:
        if self.email is None and self.browser_id is None:
            raise ValueError("give email or browser_id (or both, to link a browser to a person)")
        if self.kvk_number is not None:
            if not self.company_name:
                raise ValueError("company_name: give the company's name with its kvk_number")
            if self.channel != Channel.PAYMENT_FORM and not any(p.purpose == "invoicing" for p in self.purposes):
                raise ValueError("kvk_number: only the payment form (invoicing) asks for a KvK number")
        return self


class WithdrawIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [
                IDENTIFIED,
                {"anyOf": [{"required": ["purposes"]}, {"required": ["all"], "properties": {"all": {"const": True}}}]},
            ]
        },
    )

    email: Email | None = None
    browser_id: str | None = BROWSER_ID
    purposes: list[PurposeId] | None = Field(None, max_length=20, description="Default with all=true: every purpose")
    all: StrictBool = False
    third_party: str | None = Field(None, max_length=200)
    channel: Channel = Channel.PREFERENCE_PAGE
    language: Literal["nl", "en"] = Field("nl", description="The language of the confirmation mailed to `email`")

    @model_validator(mode="after")
    def _what(self) -> WithdrawIn:
        if self.email is None and self.browser_id is None:
            raise ValueError("give email or browser_id")
        if not self.all and not self.purposes:
            raise ValueError("give purposes, or all=true to withdraw everything")
        return self


class AnalyticsIdIn(Strict):
    """The Google Analytics client id the browser's `_ga` cookie holds (`GA1.1.<client id>`), sent by consent.js
    once analytics is granted; kept only if it was (issue 32: Google Analytics erases by this id alone)."""

    model_config = ConfigDict(extra="forbid")
    browser_id: str = Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")
    client_id: str = Field(
        min_length=3,
        max_length=41,
        pattern=r"^[0-9]{1,20}\.[0-9]{1,20}$",
        description="The `_ga` cookie's client id: two numbers joined by a dot (`1234567890.1733400000`)",
    )


class CookiesIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"required": ["tracking_over_gpc"], "properties": {"tracking_over_gpc": {"const": True}}},
            "then": {"required": ["tracking"], "properties": {"tracking": {"const": True}}},
        },
    )

    browser_id: str = Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")
    analytics: StrictBool
    tracking: StrictBool
    notice: Notice
    page: str | None = Field(None, max_length=2000)
    gpc: StrictBool = Field(
        False, description="navigator.globalPrivacyControl as the page saw it (Sec-GPC: 1 counts too)"
    )
    tracking_over_gpc: StrictBool = Field(
        False, description="Tracking switched on in the banner's settings layer although GPC is on"
    )

    @model_validator(mode="after")
    def _over_gpc(self) -> CookiesIn:
        if self.tracking_over_gpc and not self.tracking:
            raise ValueError("tracking_over_gpc is only meaningful with tracking=true")
        return self


class MinorReportIn(Strict):
    email: Email = Field(description="The address under which the child's data was left")
    reporter_email: Email | None = None
    details: str = Field("", max_length=5000)
    language: Literal["nl", "en"] = Field("nl", description="The language of the confirmation mailed to `email`")


class EmailIn(Strict):
    email: Email


class LiftIn(Strict):
    """GDPR 18(3): lifting a restriction, told to the person first."""

    email: Email
    why: str = Field(min_length=10, max_length=2000, description="Why it is lifted, in words the person reads")
    language: Literal["nl", "en"] = "nl"


class WeighIn(Strict):
    """GDPR 21(1): a privacy officer's weighing of an objection to a purpose on legitimate interest."""

    email: Email
    purpose: PurposeId
    upheld: StrictBool = Field(description="true: the processing stops; false: compelling grounds override it")
    grounds: str = Field(min_length=10, max_length=2000, description="What was weighed, in words the person reads")
    language: Literal["nl", "en"] = "nl"


class ProcessorUpdate(Strict):
    agreement: str = Field(pattern="^(unknown|requested|signed|ended)$")


class LedgerRef(BaseModel):
    record_id: str
    purpose: str
    state: str
    event_id: str
    seq: int = Field(ge=0, le=2**63 - 1)
    inclusion_proof: str


class CaptureOut(BaseModel):
    receipt: dict[str, Any] = Field(description="Kantara Consent Receipt v1.1 fields, plus the ledger entries")
    states: dict[str, str]
    history_url: str | None
    confirmation: str | None = Field(None, description="Set when a double opt-in or parental mail was sent")
    kvk_check: dict[str, Any] | None = Field(
        None, description="Statement Art. 4: the KvK check's outcome (match, mismatch, not_found, unavailable)"
    )


class WithdrawOut(BaseModel):
    withdrawn: list[str] = Field(description="What was withdrawn at once for the browser id given")
    ledger: list[LedgerRef]
    confirmation_mailed: bool = Field(
        description="An address was given: if it has given any of these, a one-click confirmation goes to it, "
        "and nothing changes until the person presses it. The same answer whether the address is known or not."
    )


class HistoryOut(BaseModel):
    subject: str
    states: dict[str, str]
    records: list[dict[str, Any]]
    linked_browsers: int
    generated_at: datetime


# --- other systems: the lookup and pushed changes (issue 35) ---------------------------------------------

LOOKUP_MAX = 1000
BrowserId = Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]


class LookupIn(Strict):
    """Up to 1,000 addresses or browser ids in all, answered in the order sent."""

    emails: list[Email] = Field(default_factory=list, max_length=LOOKUP_MAX)
    browser_ids: list[BrowserId] = Field(default_factory=list, max_length=LOOKUP_MAX)

    @model_validator(mode="after")
    def _size(self) -> LookupIn:
        count = len(self.emails) + len(self.browser_ids)
        if not count:
            raise ValueError("give emails or browser_ids to look up")
        if count > LOOKUP_MAX:
            raise ValueError(f"at most {LOOKUP_MAX} addresses and browser ids in all per call; got {count}")
        return self


class LookupAnswer(BaseModel):
    email: str | None = None
    browser_id: str | None = None
    pseudonym: str = Field(description="The key of this person's record on consent.state.v1")
    may: dict[str, bool] = Field(description="mail, track, call: whether a given consent allows it now")
    purposes: dict[str, bool] = Field(description="Each consent purpose: given now (true) or not (false)")
    third_parties: dict[str, list[str]] = Field(
        default_factory=dict, description="Per-third-party purposes: the parties consent is given for now"
    )


class LookupOut(BaseModel):
    results: list[LookupAnswer]
    as_of: datetime


class WebhookIn(Strict):
    """An endpoint of another system that is told of each consent change (Standard Webhooks)."""

    url: str = Field(
        min_length=10,
        max_length=2000,
        pattern=r"^https?://[^\s]+$",
        description="https:// to a public host (http and private hosts only on a developer machine)",
    )
    purposes: list[PurposeId] = Field(min_length=1, max_length=50, description="The purposes it is told about")
    include_email: StrictBool = Field(
        False, description="Also send the address where the change carried it (only a system allowed to hold it)"
    )
    rotate_secret: StrictBool = Field(
        False, description="Issue a new signing secret; the old one keeps signing beside it for a day"
    )
    enabled: StrictBool = True


class WebhookOut(BaseModel):
    name: str
    url: str
    purposes: list[str]
    include_email: bool
    enabled: bool
    secret: str | None = Field(None, description="whsec_...: shown once, when created or rotated")
    updated_at: datetime
