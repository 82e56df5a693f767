"""Sales statistics."""


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def best_seller(sales: dict[str, int]) -> str:
    return max(sales, key=sales.get)
