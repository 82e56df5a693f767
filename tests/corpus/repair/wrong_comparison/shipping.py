FREE_SHIPPING_FROM = 50


def shipping_cost(total):
    # Orders of FREE_SHIPPING_FROM or more ship for free.
    if total > FREE_SHIPPING_FROM:
        return 0
    return 5
