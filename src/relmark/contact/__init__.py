"""Contact frequency: never too often, never at night, and always say when the next send is allowed.

Rules (`FrequencyCap`, `MinimumGap`, `QuietHours`, `Blackout`, with `Window`)
say what to respect; a `ContactPolicy` applies them to one message
(`check`, giving a `ContactDecision`) or to a whole send (`plan`, over
frames); `contact_pressure` measures how close each customer is to the caps.
"""

from relmark.contact.policy import ContactDecision, ContactPolicy, Violation
from relmark.contact.pressure import PRESSURE_LABELS, contact_pressure
from relmark.contact.rules import Blackout, FrequencyCap, MinimumGap, QuietHours, Rule, Window

__all__ = [
    "PRESSURE_LABELS",
    "Blackout",
    "ContactDecision",
    "ContactPolicy",
    "FrequencyCap",
    "MinimumGap",
    "QuietHours",
    "Rule",
    "Violation",
    "Window",
    "contact_pressure",
]
