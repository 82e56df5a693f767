from shop.pricing import discounted, total


def test_no_discount():
    assert discounted(200, 0) == 200


def test_ten_percent_off():
    assert discounted(200, 10) == 180


def test_total_with_discount():
    assert total([100, 100], 50) == 100
