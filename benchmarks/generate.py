"""Seeded generator of realistic usage events for the benchmarks.

Consumes: N, a seed. Produces: an iterator of event dicts (SPEC §1 shape) that is the same for the
same (N, seed, start) on every machine.

What "realistic" means here:
- subjects are Zipf-distributed (a few customers send most of the traffic, a long tail sends little);
- several event names with their own property shapes;
- properties mix JSON numbers, numeric strings, categories, a high-cardinality id and missing keys;
- timestamps spread over three months, in arrival order with a little jitter.
"""

from __future__ import annotations

import bisect
import random
from itertools import accumulate
from typing import Iterator

START_MS = 1_756_684_800_000  # 2025-09-01T00:00:00Z
SPAN_MS = 91 * 86_400_000  # three months
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet", "claude-haiku", "llama-70b"]
REGIONS = ["eu", "us", "apac"]
TIERS = ["free", "pro", "enterprise"]


def subject_name(i: int) -> str:
    return f"subj_{i:06d}"


class Zipf:
    """Draws 0..n-1 with P(k) ∝ 1/(k+1)^s, by inverse CDF (bisect), seeded."""

    def __init__(self, n: int, s: float, rng: random.Random) -> None:
        self.cdf = list(accumulate(1.0 / (k + 1) ** s for k in range(n)))
        self.total = self.cdf[-1]
        self.rng = rng

    def draw(self) -> int:
        return bisect.bisect_left(self.cdf, self.rng.random() * self.total)


def generate(n: int, *, seed: int = 42, subjects: int = 2000, start_ms: int = START_MS) -> Iterator[dict]:
    rng = random.Random(seed)
    zipf = Zipf(subjects, 1.1, rng)
    step = SPAN_MS / max(n, 1)
    for i in range(n):
        ts = start_ms + int(i * step) + rng.randrange(0, 1000)
        subject = subject_name(zipf.draw())
        r = rng.random()
        if r < 0.6:
            name = "llm_call"
            props: dict = {
                "model": MODELS[min(int(rng.expovariate(0.8)), len(MODELS) - 1)],
                "region": rng.choice(REGIONS),
                "tokens": rng.randrange(1, 8000),
                "request_id": f"req_{rng.getrandbits(48):012x}",
            }
            if rng.random() < 0.7:  # numeric string with exact decimals, sometimes missing
                props["cost_usd"] = f"{rng.randrange(1, 500000) / 100000:.5f}"
            if rng.random() < 0.5:
                props["cached"] = rng.random() < 0.3
        elif r < 0.85:
            name = "api_request"
            props = {
                "region": rng.choice(REGIONS),
                "tier": rng.choice(TIERS),
                "latency_ms": str(rng.randrange(1, 3000)) if rng.random() < 0.5 else rng.randrange(1, 3000),
                "user_id": f"user_{rng.randrange(0, 50000)}",
            }
        elif r < 0.97:
            name = "storage_gb"
            props = {"gb": f"{rng.randrange(-500, 2000) / 100:.2f}", "bucket": f"b{rng.randrange(20)}"}
        else:
            name = "seat"
            props = {"seats": rng.choice([1, 1, 1, 2, -1]), "plan": rng.choice(TIERS)}
        yield {
            "event_id": f"evt_{seed}_{i}",
            "subject_id": subject,
            "event_name": name,
            "timestamp": ts,
            "properties": props,
        }


if __name__ == "__main__":  # a peek: python -m benchmarks.generate
    import json

    for e in generate(5):
        print(json.dumps(e))
