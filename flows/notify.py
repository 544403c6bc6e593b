"""An optional webhook for the things a person must hear about without watching the scheduler:
a failed run, and a high-revenue SKU that will stock out before a new order could arrive.

Set `OMS_WEBHOOK_URL` (Slack/Teams incoming webhooks and most alerting tools accept a JSON POST).
A webhook that is down never fails a run: the failure is logged and the run goes on.
"""

from __future__ import annotations

import logging
import os

import httpx

log = logging.getLogger(__name__)
WEBHOOK_ENV = "OMS_WEBHOOK_URL"


def notify(event: str, payload: dict, timeout: float = 10.0) -> bool:
    """POST {"event", "text", ...payload} to the webhook, if one is configured."""
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return False
    text = _text(event, payload)
    try:
        httpx.post(url, json={"event": event, "text": text, **payload}, timeout=timeout)
    except httpx.HTTPError as exc:
        log.warning("webhook %s failed: %s", event, type(exc).__name__)
        return False
    return True


def _text(event: str, payload: dict) -> str:
    if event == "run_failed":
        return (
            f"oms {payload.get('flow')} run {payload.get('run_id')} failed: {payload.get('error')}"
        )
    if event == "stockout_risk":
        items = payload.get("items") or []
        head = ", ".join(
            f"{i['sku']}@{i['location_id']} ({i['projected_stockout_date']})" for i in items[:5]
        )
        return (
            f"{len(items)} high-revenue SKU(s) will stock out before a new order can arrive: {head}"
        )
    return event
