"""Prices and price evaluation (SPEC §6): the public face of `meterql.pricing`.

    Price.from_dict(payload)                      our shape or Orb's -> Price (metric + model)
    evaluate_price(engine, price, subject, ...)   stored events -> [PriceRow]   (engine.evaluate_price)
    evaluate_prices(engine, [price, ...], ...)    several prices, shared scans   (engine.evaluate_prices)
    evaluate_preview(price, events, ...)          supplied events, no store -> [PriceRow]
    explain_price(engine, price, subject, ...)    the SQL evaluate_price runs, for audit
    evaluate_price_request(engine, price, body)   Orb's request body -> Orb's response, one call
    price_response(rows) / prices_response(...)   Orb's JSON response shapes

Models and their exact arithmetic live in `meterql.pricing.models`; grouping, limits and the
aggregate sources in `meterql.pricing.evaluation` and `meterql.pricing.preview`.
"""

from __future__ import annotations

from .pricing.evaluation import (
    DEFAULT_LIMITS,
    PriceLimits,
    PriceRow,
    evaluate_preview,
    evaluate_price,
    explain_price,
    evaluate_price_request,
    evaluate_prices,
    price_response,
    prices_response,
)
from .pricing.models import (
    MODELS,
    BulkModel,
    BulkTier,
    MatrixModel,
    Model,
    PackageModel,
    Price,
    Tier,
    TieredModel,
    UnitModel,
    model_from_dict,
)

__all__ = [
    "DEFAULT_LIMITS",
    "MODELS",
    "BulkModel",
    "BulkTier",
    "MatrixModel",
    "Model",
    "PackageModel",
    "Price",
    "PriceLimits",
    "PriceRow",
    "Tier",
    "TieredModel",
    "UnitModel",
    "evaluate_preview",
    "evaluate_price",
    "evaluate_price_request",
    "evaluate_prices",
    "explain_price",
    "model_from_dict",
    "price_response",
    "prices_response",
]
