"""Actions on a match: signed webhooks to the platform and a report queue for the authorities.

Rules (`rules`) map a match (bank, category, distance) to actions. A webhook is written to a
durable outbox (`outbox`) in the bank in the same transaction as the report draft (`reports`),
then sent by a background worker (`worker`) with retries and exponential backoff, so the HTTP
answer never waits for a receiver and a restart loses nothing: a pending delivery is picked up
by the next worker. Where a webhook may go is checked by `targets`; how it is signed, by
`signing`. Report drafts hold what a CyberTipline-style report carries, for a reviewer to
confirm or reject. `ActionEngine` (`engine`) holds them together.

Nothing of the uploaded content is stored: only its hashes and the metadata the platform sent.
"""

from hashwarden.service.actions.engine import ActionEngine, Triggered
from hashwarden.service.actions.outbox import Delivery
from hashwarden.service.actions.reports import Report
from hashwarden.service.actions.rules import NewRule, Rule
from hashwarden.service.actions.settings import DeliverySettings
from hashwarden.service.actions.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify_signature,
)
from hashwarden.service.actions.worker import UNREACHABLE, WebhookWorker

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "UNREACHABLE",
    "ActionEngine",
    "Delivery",
    "DeliverySettings",
    "NewRule",
    "Report",
    "Rule",
    "Triggered",
    "WebhookWorker",
    "sign",
    "verify_signature",
]
