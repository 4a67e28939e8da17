"""Consent receipts after the Kantara Initiative Consent Receipt Specification v1.1."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from services.consent.context import ConsentContext
from services.consent.decisions import Recorded


def receipt(
    ctx: ConsentContext,
    *,
    principal: str,
    recorded: list[Recorded],
    channel: str,
    at: datetime,
    history_url: str | None,
) -> dict[str, Any]:
    controller = ctx.catalogue.controller
    purposes = []
    for r in recorded:
        purpose = ctx.catalogue.purpose(r.record.purpose)
        assert purpose is not None
        purposes.append(
            {
                "purpose": purpose.description_en,
                "purposeId": purpose.id,
                "purposeCategory": [purpose.article] if purpose.article else [],
                "consentType": "EXPLICIT" if purpose.requires_consent else "NOT_REQUIRED",
                "legalBasis": purpose.legal_basis.value,
                "state": r.record.state,
                "piiCategory": json.loads(r.record.categories) or list(purpose.categories),
                "primaryPurpose": True,
                "termination": (
                    f"until withdrawn; data kept {purpose.retention_days} days after"
                    if purpose.standing
                    else f"{purpose.retention_days} days after the last change"
                ),
                "thirdPartyDisclosure": bool(r.record.third_party),
                "thirdPartyName": r.record.third_party or None,
            }
        )
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "NL",
        "consentTimestamp": int(at.timestamp()),
        "collectionMethod": channel,
        "consentReceiptID": recorded[0].record.id if recorded else None,
        "language": "nl",
        "piiPrincipalId": principal,
        "piiControllers": [
            {
                "piiController": controller["controller"],
                "contact": controller["contact"],
                "address": controller["address"],
                "email": controller["contact"],
                "phone": "",
            }
        ],
        "policyUrl": ctx.settings.policy_url,
        "services": [{"service": controller["title"], "purposes": purposes}],
        "sensitive": False,
        "spiCat": [],
        "ledger": [r.ref.model_dump() for r in recorded],
        "ledgerCheckpoint": ctx.url("/ledger/checkpoint"),
        "ledgerPublicKey": ctx.url("/ledger/public-key"),
        **({"historyUrl": history_url} if history_url else {}),
    }
