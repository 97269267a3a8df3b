"""The chapter's handlers, ready for the command line.

``taskq worker --app taskq_lib.examples:registry`` runs them; ``taskq serve`` with the same
``--app`` accepts their task types over HTTP. As in the Go original, an email takes twice as
long as an SMS and a notification is instant; the sleeps are scaled down (1 s becomes
``SCALE`` seconds) so that demonstrations and tests run in moments.
"""

from __future__ import annotations

import time
from typing import Any

from .registry import Registry
from .task import Task

#: One second of the original, in seconds here.
SCALE = 0.05

registry = Registry()


@registry.task("email")
def send_email(task: Task) -> dict[str, Any]:
    """The original: ``time.Sleep(time.Second)``."""
    time.sleep(1.0 * SCALE)  # stands for: talk to the mail server
    return {"sent": "email", "to": task.payload.get("to")}


@registry.task("sms")
def send_sms(task: Task) -> dict[str, Any]:
    """The original: ``time.Sleep(500 * time.Millisecond)``."""
    time.sleep(0.5 * SCALE)  # stands for: talk to the SMS gateway
    return {"sent": "sms", "to": task.payload.get("to")}


@registry.task("notification")
def send_notification(task: Task) -> dict[str, Any]:
    """The original does no waiting here."""
    return {"sent": "notification", "to": task.payload.get("to")}
