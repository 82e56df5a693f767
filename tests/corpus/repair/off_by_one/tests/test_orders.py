from orders import average_order, largest_order


def test_average_of_equal_orders():
    assert average_order([5, 5]) == 5


def test_average_of_mixed_orders():
    assert average_order([10, 20, 30]) == 20
    assert average_order([4]) == 4


def test_largest():
    assert largest_order([3, 9, 2]) == 9
