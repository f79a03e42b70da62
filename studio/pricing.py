"""Cost estimates from the one dated list-price table, which lives with the models it prices (studio.catalog).

Prices are USD per second of output video, as published for the hosted
Sora 2 models (read on PRICES_READ_ON). Anything not in the table (a
gateway's own model, an Azure deployment name, an unlisted size) has no
price: callers show "price unknown", never a guess. The local renderer is
free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from studio.catalog import PRICES_READ_ON, PRICES_USD_PER_SECOND, base_model
from studio.errors import InvalidInput

__all__ = [
    "PRICES_READ_ON",
    "PRICES_USD_PER_SECOND",
    "CostEstimate",
    "estimate_cost",
    "format_usd",
    "price_per_second",
]

def price_per_second(model: str, size: str, provider_kind: str) -> float | None:
    """USD per second of output: 0.0 for the local renderer, None when unknown."""
    if _is_local(provider_kind):
        return 0.0
    base = base_model(model)  # a dated snapshot costs what its model costs
    if base is None:
        return None
    return PRICES_USD_PER_SECOND[base].get(_normalise_size(size))


@dataclass(frozen=True)
class CostEstimate:
    usd: float | None  # None: price unknown
    billed_seconds: int  # per variant: a new video's length, or what an extension adds
    per_second: float | None
    label: str  # for people, e.g. "$0.80 (8 s × $0.10/s)"


def estimate_cost(
    model: str,
    size: str,
    billed_seconds: int | str,
    provider_kind: str,
    variants: int = 1,
) -> CostEstimate:
    """Estimate what a job costs.

    `billed_seconds` is the output billed per variant: a new video's
    length, or for an extension only the seconds it adds, not the length of
    the finished video. It may be the string the SDK sends ("8").
    `variants` is how many jobs the same settings start.
    """
    secs = _positive_int(billed_seconds, "The duration must be a whole number of seconds")
    count = _positive_int(variants, "The number of variants must be a whole number")
    if _is_local(provider_kind):
        return CostEstimate(usd=0.0, billed_seconds=secs, per_second=0.0, label="Free (local renderer)")
    rate = price_per_second(model, size, provider_kind)
    if rate is None:
        return CostEstimate(usd=None, billed_seconds=secs, per_second=None, label=_unknown_label(model, size))
    # Decimal, so 3 x 8 x 0.10 is 2.40 and not 2.4000000000000004.
    total = float(Decimal(str(rate)) * secs * count)
    parts = ([f"{count} variants"] if count > 1 else []) + [f"{secs} s", f"{_format_rate(rate)}/s"]
    label = f"{format_usd(total)} ({' × '.join(parts)})"
    return CostEstimate(usd=total, billed_seconds=secs, per_second=rate, label=label)


def format_usd(amount: float) -> str:
    """Dollars and cents: "$0.40", "$12.00", "$1,250.00"."""
    cents = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def _format_rate(rate: float) -> str:
    # A rate is shown in cents unless it has finer precision, which rounding would hide.
    value = Decimal(str(rate))
    if value == value.quantize(Decimal("0.01")):
        return format_usd(rate)
    return f"${value.normalize():f}"


def _unknown_label(model: str, size: str) -> str:
    name = model.strip()
    if base_model(name) is not None:
        return f"Price unknown for {name} at {_normalise_size(size)}"
    return f"Price unknown for model '{name}'"


def _normalise_size(size: str) -> str:
    return re.sub(r"\s+", "", size).lower().replace("×", "x")


def _is_local(provider_kind: str) -> bool:
    return provider_kind.strip().lower() == "local"


def _positive_int(value: int | str, rule: str) -> int:
    if isinstance(value, bool):  # True is an int in Python; never a count here
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        number = None
    if number is None or number < 1:
        raise InvalidInput(f"{rule}, at least 1; got {value!r}.", code="invalid_number")
    return number
