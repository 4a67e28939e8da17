"""API shapes of the breach service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, field_validator, model_validator

from services.breach.domain import Act, Category, Exemption, Level, Nature, Outcome, Phase
from services.common.moments import Moment, People, Records


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Person(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(None, max_length=40)


class BreachIn(Strict):
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=10, max_length=10000)
    legal_basis: str = Field("AVG", pattern="^(AVG|Telecommunicatiewet)$", description="AP form section 0")
    awareness_at: Moment = Field(description="When we became aware: the 72-hour clock starts here")
    started_at: Moment | None = None
    ended_at: Moment | None = None
    ongoing: StrictBool = False
    nature: list[Nature] = Field(min_length=1)
    acts: list[Act] = Field(default_factory=list)
    categories: list[Category] = Field(min_length=1, description="AP form section 4")
    special_people: str | None = Field(None, max_length=500, description="E.g. children, patients (section 5)")
    subject_categories: list[Annotated[str, Field(min_length=2, max_length=200)]] = Field(
        default_factory=list,
        max_length=20,
        description="Section 5: the categories of people concerned, e.g. newsletter subscribers, customers",
    )
    systems: list[str] = Field(default_factory=list, max_length=50)
    processors: list[str] = Field(default_factory=list, max_length=50)
    subjects_min: People
    subjects_max: People
    records_approx: Records = 0
    encrypted: StrictBool = Field(False, description="Section 6: encrypted, hashed or otherwise unintelligible")
    protection: str | None = Field(None, max_length=2000)
    consequences: str | None = Field(None, max_length=5000, description="Section 7")
    reporter: Person
    contact: Person | None = Field(None, description="Contact person for the AP (section 1); default the reporter")
    expert: Person | None = Field(None, description="The IT expert who finds and fixes the cause (statement Art. 13)")
    expert_findings: str | None = Field(None, max_length=10000)
    measures: str | None = Field(None, max_length=10000, description="Section 8: measures taken or proposed")
    other_organisations: str | None = Field(None, max_length=2000)
    international: StrictBool = False

    @model_validator(mode="after")
    def _numbers(self) -> BreachIn:
        if self.subjects_max < self.subjects_min:
            raise ValueError("subjects_max is below subjects_min")
        if self.ongoing and self.ended_at is not None:
            raise ValueError("an ongoing breach has no ended_at")
        return self


KEPT = (  # what a change may give but never clear
    "description",
    "ongoing",
    "expert_findings",
    "measures",
    "consequences",
    "subjects_min",
    "subjects_max",
    "records_approx",
    "subject_categories",
)


def _not_nullable(schema: dict[str, Any]) -> None:
    """The document says what the validator does: these fields may be left out, never null."""
    for name in KEPT:
        prop = schema["properties"][name]
        branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
        if branches:
            prop.update(branches[0])
        prop.pop("default", None)


class BreachUpdate(Strict):
    """Only the fields given change. `ended_at` (and `expert`) may be null to clear them; the others
    cannot be cleared and are refused as null (leave them out to keep them)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_not_nullable)

    description: str | None = Field(None, min_length=10, max_length=10000)
    ended_at: Moment | None = None
    ongoing: StrictBool | None = None
    expert: Person | None = None
    expert_findings: str | None = Field(None, max_length=10000)
    measures: str | None = Field(None, max_length=10000)
    consequences: str | None = Field(None, max_length=5000)
    subjects_min: People | None = None
    subjects_max: People | None = None
    records_approx: Records | None = None
    subject_categories: list[Annotated[str, Field(min_length=2, max_length=200)]] | None = Field(None, max_length=20)

    @field_validator(*KEPT, mode="before")
    @classmethod
    def _given(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be cleared: give a value, or leave the field out to keep it")
        return value


class FactorsIn(Strict):
    breach_type: Nature
    sensitivity: Level
    volume: Level
    ease_of_identification: Level
    severity: Level
    special_people: StrictBool = False
    people: People


class AssessmentIn(Strict):
    """The outcome is chosen by a person, with reasons; the suggestion is only shown (statement Art. 6)."""

    factors: FactorsIn
    outcome: Outcome
    reasons: str = Field(min_length=10, max_length=5000)
    exemption: Exemption | None = Field(None, description="GDPR 34(3) a, b or c")
    exemption_reason: str | None = Field(None, max_length=5000)

    @model_validator(mode="after")
    def _exemption(self) -> AssessmentIn:
        if self.exemption is not None and not (self.exemption_reason or "").strip():
            raise ValueError("exemption_reason is required with an exemption (GDPR 34(3))")
        return self


class SubmissionIn(Strict):
    submitted_at: Moment | None = Field(None, description="When it was sent through the AP's form; default now")
    ap_reference: str = Field(min_length=1, max_length=100)
    late_reason: str | None = Field(None, max_length=5000, description="Required after the 72 hours (GDPR 33(1))")


class PrepareIn(Strict):
    phase: Phase
    reason: str | None = Field(None, max_length=5000, description="Required for a withdrawal")
    delay_reason: str | None = Field(
        None,
        max_length=5000,
        description="GDPR 33(1): required for an initial notification prepared after the 72 hours; part of its content",
    )


class AffectedQueryIn(Strict):
    window_start: Moment | None = Field(None, description="Default: when the breach started (or awareness)")
    window_end: Moment | None = Field(None, description="Default: now, or when it ended")
    processors: list[str] | None = Field(None, description="Default: the breach's processors")
    reach: Literal["held", "collected"] = Field(
        "held",
        description="held (default): everyone whose data was held during the window and not erased since, as a "
        "leak of stored data reaches them; collected: only data collected during the window",
    )


class NotifyIn(Strict):
    likely_consequences: str = Field(min_length=10, max_length=5000, description="GDPR 34(2) / 33(3)(c)")
    measures: str = Field(min_length=10, max_length=5000, description="GDPR 34(2) / 33(3)(d)")
    advice: str | None = Field(None, max_length=5000, description="What people can do themselves")
    description_en: str | None = Field(None, max_length=10000, description="What happened, in English")
    likely_consequences_en: str | None = Field(None, max_length=5000)
    measures_en: str | None = Field(None, max_length=5000)
    advice_en: str | None = Field(None, max_length=5000)


class PublicCommunicationIn(Strict):
    channel: str = Field(min_length=2, max_length=100)
    url: str | None = Field(None, max_length=2000)
    text: str = Field(min_length=20, max_length=20000)
    published_at: Moment | None = None
