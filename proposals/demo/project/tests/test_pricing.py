import pytest
from shop.pricing import apply_discount, order_total, price_with_tax, product_code


def test_price_with_tax():
    assert price_with_tax(10.0) == 12.0


def test_apply_discount():
    assert apply_discount(80.0, 25) == 60.0


def test_discount_out_of_range():
    with pytest.raises(ValueError):
        apply_discount(10.0, 120)


def test_order_total():
    assert order_total([("pen", 3, 1.5), ("book", 1, 12.0)]) == 16.5


def test_product_code():
    assert product_code("Blue Pen") == "BLUE-PEN"
