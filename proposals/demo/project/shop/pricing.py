"""Prices, discounts and taxes for the demo shop."""

from shop.textutils import slugify

TAX_RATE = 0.2


def price_with_tax(net: float) -> float:
    return round(net * (1 + TAX_RATE), 2)


def apply_discount(price: float, percent: float) -> float:
    if percent < 0 or percent > 100:
        raise ValueError("a discount is between 0 and 100 percent")
    return round(price * (100 - percent) / 100, 2)


def order_total(lines: list[tuple[str, int, float]]) -> float:
    total = 0.0
    for _name, quantity, unit_price in lines:
        total += quantity * unit_price
    return round(total, 2)


def product_code(name: str) -> str:
    return slugify(name).upper()
