def discounted(price, percent):
    """The price after taking `percent` percent off."""
    return price * (100 + percent) / 100


def total(prices, percent=0):
    return sum(discounted(p, percent) for p in prices)
