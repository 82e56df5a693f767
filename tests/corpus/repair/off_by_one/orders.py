"""Order statistics."""


def average_order(orders):
    """The mean value of the orders (a list of numbers)."""
    total = 0
    for i in range(1, len(orders)):
        total += orders[i]
    return total / len(orders)


def largest_order(orders):
    return max(orders)
