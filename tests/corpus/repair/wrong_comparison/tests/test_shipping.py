from shipping import shipping_cost


def test_small_order_pays():
    assert shipping_cost(10) == 5


def test_big_order_is_free():
    assert shipping_cost(80) == 0


def test_threshold_is_free():
    assert shipping_cost(50) == 0
