"""Synthetic usage for `meterql demo`: realistic, seeded, the same on every machine.

Consumes: a number of events and a seed.
Produces: event dicts (SPEC §1 shape) for a month and a half (2025-09-15 … 2025-10-31, UTC) of a
small AI-API business: 40 subjects (one is the Lark seed's `subj_VyX6Q96h5avMho8O7QWlKeXE`), with
- `llm_call`: `model`, `region`, integer `tokens`, `cost_usd` as an exact decimal string;
- `api_request`: `endpoint`, `user_id` (for unique counts), `status`;
- `storage`: `gb` as a signed decimal string (a change of the stored level, for weighted_sum).
Guarantees: deterministic for (n, seed); event ids are `demo_<seed>_<i>`, so running the demo
twice re-sends the same ids (and shows idempotency: the second run stores nothing new).
"""

from __future__ import annotations

import random
from typing import Iterator

SEED_SUBJECT = "subj_VyX6Q96h5avMho8O7QWlKeXE"
START_MS = 1_757_894_400_000  # 2025-09-15T00:00:00Z
END_MS = 1_761_955_200_000  # 2025-11-01T00:00:00Z
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet", "claude-haiku")
REGIONS = ("eu", "us", "apac")
ENDPOINTS = ("/v1/chat", "/v1/embed", "/v1/files", "/v1/search")


def subjects() -> list[str]:
    return [SEED_SUBJECT] + [f"subj_demo_{i:03d}" for i in range(1, 40)]


def generate(n: int = 60_000, *, seed: int = 7) -> Iterator[dict]:
    rng = random.Random(seed)
    subs = subjects()
    # a few heavy customers, a long tail: weight ∝ 1/rank
    weights = [1.0 / (rank + 1) for rank in range(len(subs))]
    span = END_MS - START_MS
    for i in range(n):
        subject = rng.choices(subs, weights)[0]
        ts = START_MS + (i * span) // n + rng.randrange(0, max(1, span // n))
        r = rng.random()
        if r < 0.6:
            tokens = int(rng.lognormvariate(6.5, 1.0)) + 1
            name, props = "llm_call", {
                "model": rng.choice(MODELS),
                "region": rng.choice(REGIONS),
                "tokens": tokens,
                "cost_usd": f"{tokens * rng.choice((2, 3, 15)) / 1_000_000:.6f}",
            }
        elif r < 0.95:
            name, props = "api_request", {
                "endpoint": rng.choice(ENDPOINTS),
                "user_id": f"user_{rng.randrange(0, 200)}",
                "status": rng.choice((200, 200, 200, 201, 429, 500)),
            }
        else:
            name, props = "storage", {"gb": f"{rng.choice((1, 1, 2, -1)) * rng.randrange(1, 400) / 100:.2f}"}
        yield {"event_id": f"demo_{seed}_{i}", "subject_id": subject, "event_name": name, "timestamp": ts,
               "properties": props}
