"""Pricing: price models (`models`), their evaluation over an engine or supplied events
(`evaluation`, `preview`). `meterql.price` is the public face of this package."""
