"""Consent: may we contact this person, on this channel, for this purpose, now, and why.

- Records: `ConsentEvent`, `Evidence`, `Suppression`, and the enumerations
  `Action`, `Basis`, `Purpose`, `Scope`.
- `ConsentLedger`: append-only, tamper-evident, JSON Lines round trip, erasure.
- Regimes (`relmark.consent.regimes`): `GDPR`, `UK_GDPR`, `CASL`, `CAN_SPAM`,
  `TCPA`, `PIPEDA`, `CCPA`, and `regime_for(jurisdiction, ...)`.
- Checking: `check_consent` for one person, `check_consent_batch` for a frame;
  `ConsentDecision` says what was decided and why. Unknown means no.

Examples:
    >>> from relmark.consent import ConsentEvent, ConsentLedger, check_consent, regime_for
    >>> ledger = ConsentLedger([
    ...     ConsentEvent("c1", "email", "marketing", "grant", "express",
    ...                  "2024-05-01T10:00:00+02:00[Europe/Paris]", "FR"),
    ... ])
    >>> decision = check_consent(ledger, "c1", channel="email", purpose="marketing",
    ...                          at="2024-06-01T09:00:00Z", regime=regime_for("FR"))
    >>> bool(decision), decision.reason
    (True, 'GDPR: express consent for email marketing')
"""

from __future__ import annotations

from relmark.consent.check import (
    REASON_CODES,
    ConsentDecision,
    SuppressionList,
    check_consent,
    check_consent_batch,
)
from relmark.consent.events import (
    Action,
    Basis,
    ConsentEvent,
    Evidence,
    Purpose,
    Scope,
    Suppression,
    SuppressionKind,
)
from relmark.consent.ledger import ConsentLedger, Verification
from relmark.consent.regimes import (
    CAN_SPAM,
    CASL,
    CCPA,
    GDPR,
    PIPEDA,
    REGIMES,
    TCPA,
    UK_GDPR,
    BasisRule,
    PurposeRule,
    Regime,
    business_days_after,
    regime_for,
)

__all__ = [
    "CAN_SPAM",
    "CASL",
    "CCPA",
    "GDPR",
    "PIPEDA",
    "REASON_CODES",
    "REGIMES",
    "TCPA",
    "UK_GDPR",
    "Action",
    "Basis",
    "BasisRule",
    "ConsentDecision",
    "ConsentEvent",
    "ConsentLedger",
    "Evidence",
    "Purpose",
    "PurposeRule",
    "Regime",
    "Scope",
    "Suppression",
    "SuppressionKind",
    "SuppressionList",
    "Verification",
    "business_days_after",
    "check_consent",
    "check_consent_batch",
    "regime_for",
]
