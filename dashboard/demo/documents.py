"""Realistic workflow states for the demo, turned into log documents by the shipper's builder.

States are shaped like the samples in the workflow's repository (ticket, plan, ReAct
iterations, retrieval, confidence, final response, error), with fake personal data that
the builder must hash away, exactly as it does in production.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from shipper import build_workflow_log

FIRST_NAMES = ["Jane", "Omar", "Lena", "Marco", "Aiko", "Pierre", "Sofia", "Tom", "Ines", "Kofi"]
LAST_NAMES = ["Doe", "Haddad", "Berg", "Rossi", "Tanaka", "Martin", "Silva", "Kim", "Costa"]

# (intent, strategy, subject, steps, actions, typical outcome weights S/F/E/X)
SCENARIOS: list[dict[str, Any]] = [
    {
        "intent": "replacement_part_request",
        "strategy": "vision_first",
        "subject": "Need a replacement cartridge for my {product}",
        "steps": [
            "identify the product from the attached image",
            "find the matching part in the parts catalogue",
            "check stock and warranty policy",
            "draft the reply",
        ],
        "actions": ["vision_search", "catalogue_search", "kb_search", "final_answer"],
        "weights": (0.86, 0.07, 0.03, 0.04),
        "attachments": 1,
    },
    {
        "intent": "damaged_delivery",
        "strategy": "text_only",
        "subject": "Order {order} arrived damaged",
        "steps": ["look up the order", "check the damage policy", "draft the reply"],
        "actions": ["order_lookup", "kb_search", "final_answer"],
        "weights": (0.62, 0.22, 0.06, 0.10),
        "attachments": 0,
    },
    {
        "intent": "order_status",
        "strategy": "text_only",
        "subject": "Where is my order {order}?",
        "steps": ["look up the order", "look up the carrier status", "draft the reply"],
        "actions": ["order_lookup", "carrier_tracking", "final_answer"],
        "weights": (0.80, 0.12, 0.05, 0.03),
        "attachments": 0,
    },
    {
        "intent": "warranty_question",
        "strategy": "text_first",
        "subject": "Is my {product} still under warranty?",
        "steps": ["find the product", "check the warranty policy", "draft the reply"],
        "actions": ["catalogue_search", "kb_search", "final_answer"],
        "weights": (0.78, 0.10, 0.02, 0.10),
        "attachments": 0,
    },
    {
        "intent": "legal",
        "strategy": "escalate",
        "subject": "Legal notice regarding invoice INV-{order}",
        "steps": ["classify", "escalate to a human agent"],
        "actions": ["escalate"],
        "weights": (0.0, 0.0, 0.0, 1.0),
        "attachments": 0,
    },
]
SCENARIO_WEIGHTS = [0.38, 0.18, 0.22, 0.16, 0.06]
PRODUCTS = [
    ("AUR-X2-CHR", "Aurora X2 kitchen faucet, chrome"),
    ("AUR-X1-CHR", "Aurora X1 kitchen faucet, chrome"),
    ("NIM-S3-BLK", "Nimbus S3 shower head, black"),
    ("TRL-K9-STL", "Trail K9 camping stove, steel"),
    ("BRK-T2-GRN", "Brook T2 tent, green"),
]
# (error type, node, message, status)
FAILURES = [
    ("ToolTimeout", "react_agent", "order_lookup timed out after 10.0 s", "FAILED"),
    ("RetrievalEmpty", "retriever", "no document above the score threshold 0.6", "FAILED"),
    ("OutputValidationError", "output_formatter", "reply exceeds 2000 characters", "FAILED"),
]
ERRORS = [
    ("RateLimitError", "planner", "LLM provider answered 429 Too Many Requests", "ERROR"),
    ("ContextLengthExceeded", "react_agent", "prompt of 131,204 tokens exceeds the limit", "ERROR"),
    ("ConnectionError", "helpdesk_client", "helpdesk API unreachable: connection reset", "ERROR"),
]
# Versions roll out over the 90 days: (days before the end it started, version, share).
VERSIONS = [(90, "v1.0"), (45, "v1.1"), (8, "v1.2")]
STAGING_SHARE = 0.08


def _version(rng: random.Random, days_before_end: float) -> str:
    # The first day starts at midnight, up to a day before the first version's start.
    live = [v for start, v in VERSIONS if days_before_end <= start] or [VERSIONS[0][1]]
    if len(live) > 1 and rng.random() < 0.25:
        return live[-2]  # a gradual rollout: some traffic stays on the previous version
    return live[-1]


def _state(
    rng: random.Random, ticket_id: int, version: str, start: dt.datetime, failing: bool = False
) -> dict[str, Any]:
    scenario = rng.choices(SCENARIOS, SCENARIO_WEIGHTS)[0]
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{first}.{last}@example.com".lower()
    product_id, product_title = rng.choice(PRODUCTS)
    order = rng.randint(10000, 99999)
    success_w, failed_w, error_w, escalate_w = scenario["weights"]
    if version != "v1.0":  # later versions fail a little less
        failed_w *= 0.7
        error_w *= 0.8
    if failing:  # a bad deployment: most tickets end in a timeout or a rate limit
        failed_w, error_w = 3.0, 1.0
    outcome = rng.choices(
        ["SUCCESS", "FAILED", "ERROR", "ESCALATED"], [success_w, failed_w, error_w, escalate_w]
    )[0]
    error = None
    if outcome == "FAILED":
        kind, node, message, _ = rng.choice(FAILURES)
        error = {"type": kind, "node": node, "message": message}
    elif outcome == "ERROR":
        kind, node, message, _ = rng.choice(ERRORS)
        error = {"type": kind, "node": node, "message": f"{message} (Bearer sk-live-{order})"}

    # Confidence predicts success, imperfectly: that is what the calibration chart shows.
    base = {"SUCCESS": 0.8, "FAILED": 0.4, "ERROR": 0.3, "ESCALATED": 0.7}[outcome]
    confidence = min(1.0, max(0.02, rng.gauss(base, 0.12)))
    risk = min(1.0, max(0.0, rng.gauss(0.55 - confidence / 2, 0.06)))
    actions = list(scenario["actions"])
    if outcome in ("FAILED", "ERROR"):
        actions = actions[: rng.randint(1, len(actions))]
    elif rng.random() < 0.3:
        actions.insert(1, rng.choice(["kb_search", "catalogue_search"]))  # an extra look-up
    iterations = []
    for number, action in enumerate(actions, 1):
        long_thought = rng.random() < 0.15
        thought = f"Step {number}: use {action} to move the ticket forward."
        if long_thought:
            thought += " " + " ".join(
                f"Considering option {i}: the customer's wording suggests {product_title}."
                for i in range(1, 8)
            )
        iterations.append(
            {
                "iteration": number,
                "thought": thought,
                "action": action,
                "action_input": {"query": f"{scenario['intent']} {product_id}"},
                "observation": (
                    f"Top match {product_id} score {confidence:.2f}"
                    if action != "final_answer"
                    else ""
                ),
                "duration_ms": rng.randint(150, 2500),
            }
        )
    text_results = [
        {
            "doc_id": f"KB-{rng.randint(100, 400)}",
            "title": "Warranty and parts policy",
            "score": round(rng.uniform(0.5, 0.95), 2),
            "source": "knowledge_base",
        }
        for _ in range(rng.randint(0, 4))
    ]
    vision = scenario["strategy"] == "vision_first"
    vision_results = (
        [{"product_id": product_id, "title": product_title, "score": round(confidence, 2)}]
        if vision
        else []
    )
    subject = scenario["subject"].format(product=product_title.split(",")[0], order=order)
    reply = None
    if outcome == "SUCCESS":
        reply = {
            "action": "reply",
            "text": f"Hi {first}, thanks for reaching out. The part for your "
            f"{product_title} is in stock and ships tomorrow.",
        }
    elif outcome == "ESCALATED":
        reply = {
            "action": "escalate",
            "text": "",
            "tags_added": [f"escalated-{scenario['intent']}"],
        }
    return {
        "ticket_id": str(ticket_id),
        "ticket": {
            "id": ticket_id,
            "subject": subject,
            "description": f"{subject.rstrip('.?')}: please call me on "
            f"+1 415 555 {rng.randint(1000, 9999)} or write to {email}. Thanks, {first} {last}",
            "requester_email": email,
            "requester_name": f"{first} {last}",
            "priority": rng.randint(1, 4),
            "channel": rng.choice(["email", "portal", "chat"]),
            "tags": [scenario["intent"].split("_")[0]],
            "created_at": (start - dt.timedelta(seconds=rng.randint(2, 90))).isoformat(),
            "attachments": [
                {"name": "photo.jpg", "content_type": "image/jpeg", "size_bytes": 204800}
            ]
            * scenario["attachments"],
        },
        "workflow_start_time": start.isoformat(),
        "plan": {
            "intent": scenario["intent"],
            "strategy": scenario["strategy"],
            "steps": scenario["steps"],
            "model": "gpt-4.1-mini",
        },
        "react_iterations": iterations,
        "retrieval": {"text_results": text_results, "vision_results": vision_results},
        "product_identification": (
            {"product_id": product_id, "confidence": round(confidence, 2)} if vision else None
        ),
        "confidence": {
            "overall": round(confidence, 3),
            "hallucination_risk": round(risk, 3),
            **({"product": round(min(1.0, confidence + 0.05), 3)} if vision else {}),
        },
        "final_response": reply,
        "config": {"openai_api_key": "sk-proj-demo-not-a-real-key"},
        "status": outcome,
        "error": error,
    }


def demo_documents(
    *,
    rng: random.Random,
    client_slug: str,
    end: dt.datetime,
    days: int,
    runs_per_weekday: int,
) -> list[dict[str, Any]]:
    """Log documents for ``days`` days up to ``end``, busier on weekdays and working hours."""
    documents = []
    ticket = 40000 + rng.randint(0, 5000)
    day_start = (end - dt.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    while day_start < end:
        weekday = day_start.weekday() < 5
        runs = rng.randint(int(runs_per_weekday * 0.7), int(runs_per_weekday * 1.3) + 1)
        if not weekday:
            runs = runs // 3
        for _ in range(runs):
            hour = min(23, max(0, round(rng.gauss(13, 3.5))))
            start = day_start + dt.timedelta(hours=hour, seconds=rng.randint(0, 3599))
            if start >= end:
                continue
            # Now and then a ticket is processed again (a customer's follow-up).
            ticket_id = ticket - rng.randint(1, 40) if rng.random() < 0.08 else ticket
            ticket += 1
            version = _version(rng, (end - start).total_seconds() / 86400)
            documents.append(_document(rng, client_slug, ticket_id, version, start))
        day_start += dt.timedelta(days=1)
    return documents


def _document(
    rng: random.Random,
    client_slug: str,
    ticket_id: int,
    version: str,
    start: dt.datetime,
    failing: bool = False,
) -> dict[str, Any]:
    state = _state(rng, ticket_id, version, start, failing)
    seconds = max(0.6, rng.lognormvariate(1.5, 0.45) + len(state["react_iterations"]))
    if state["status"] == "FAILED" and state["error"]["type"] == "ToolTimeout":
        seconds += 10
    document = build_workflow_log(
        state, start, start + dt.timedelta(seconds=seconds), workflow_version=version
    )
    document["client_id"] = client_slug
    document["environment"] = "staging" if rng.random() < STAGING_SHARE else "production"
    return document


def demo_drift_documents(
    *,
    rng: random.Random,
    client_slug: str,
    end: dt.datetime,
    weeks: int,
    hours: int,
    runs_per_hour: int,
    drift_hours: int,
) -> list[dict[str, Any]]:
    """A busy stretch of ``hours`` hours before ``end`` in this week and each of ``weeks``
    weeks before (a weekly batch at this time of the week: the monitors' baseline), whose
    last ``drift_hours`` hours this week come from a bad deployment (v1.3) that fails most
    tickets. Enough runs an hour for the success-rate monitors to judge (min_samples 20).
    """
    documents = []
    ticket = 70000 + rng.randint(0, 5000)
    step = dt.timedelta(hours=1) / runs_per_hour
    drift_start = end - dt.timedelta(hours=drift_hours)
    for week in range(weeks + 1):
        week_end = end - dt.timedelta(days=7 * week)
        start = week_end - dt.timedelta(hours=hours)
        while start < week_end:
            failing = start >= drift_start
            version = "v1.3" if failing else _version(rng, 7 * week)
            moment = start + dt.timedelta(seconds=rng.uniform(0, step.total_seconds()))
            if moment < week_end:
                documents.append(_document(rng, client_slug, ticket, version, moment, failing))
                ticket += 1
            start += step
    return documents
