"""Contact frequency: never too often, never at night, and always say when the next send is allowed.

Rules (`FrequencyCap`, `MinimumGap`, `QuietHours`, `Blackout`, with `Window`)
say what to respect; a `ContactPolicy` applies them to one message
(`check`, giving a `ContactDecision`).
"""

from relmark.contact.policy import ContactDecision, ContactPolicy, Violation
from relmark.contact.rules import Blackout, FrequencyCap, MinimumGap, QuietHours, Rule, Window

__all__ = [
    "Blackout",
    "ContactDecision",
    "ContactPolicy",
    "FrequencyCap",
    "MinimumGap",
    "QuietHours",
    "Rule",
    "Violation",
    "Window",
]
