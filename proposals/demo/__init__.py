"""The demo `make run` loads: a small shop project and proposals that break it in ways selfheal
repairs with no API key (rules for the first five, the mutation search for the last)."""

from pathlib import Path

PROJECT_DIR = Path(__file__).parent / "project"

STATS_WITH_STDEV = '''"""Sales statistics."""


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def stdev(values: list[float]) -> float:
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / len(values))


def best_seller(sales: dict[str, int]) -> str:
    return max(sales, key=sales.get)
'''

TEST_STDEV = """from shop.stats import stdev


def test_stdev():
    assert stdev([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == 2.0


def test_stdev_of_constant_values():
    assert stdev([3.0, 3.0, 3.0]) == 0.0
"""

BULK_DISCOUNT = '''

def bulk_total(lines: list[tuple[str, int, float]], threshold: int = 10) -> float:
    """Ten percent off orders of at least `threshold` items."""
    subtotal = order_total(lines)
    items = sum(quantity for _name, quantity, _price in lines)
    if items >= threshold:
        return apply_discount(subtotl, 10)
    return subtotal
'''

TEST_BULK = """from shop.pricing import bulk_total


def test_bulk_discount_applies():
    assert bulk_total([("pen", 10, 1.0)]) == 9.0


def test_small_orders_pay_full_price():
    assert bulk_total([("pen", 2, 1.0)]) == 2.0
"""

LABELS = '''"""Shelf labels."""

from textutils import truncate


def shelf_label(name: str, price: float) -> str:
    return f"{truncate(name, 12)} {price:.2f}"
'''

TEST_LABELS = """from shop.labels import shelf_label


def test_shelf_label():
    assert shelf_label("Fountain pen deluxe", 12.5) == "Fountain pe… 12.50"
"""

STATS_WITH_MEDIAN = '''"""Sales statistics."""


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def median(values: list[float]) -> float
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def best_seller(sales: dict[str, int]) -> str:
    return max(sales, key=sales.get)
'''

TEST_MEDIAN = """from shop.stats import median


def test_median_odd():
    assert median([3.0, 1.0, 2.0]) == 2.0


def test_median_even():
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
"""

REPORT = '''"""A JSON sales report."""

from shop import textutils
from shop.stats import best_seller


def sales_report(sales: dict[str, int]) -> str:
    top = best_seller(sales)
    return json.dumps({"best_seller": textutils.slugfy(top), "products": len(sales)})
'''

TEST_REPORT = """import json

from shop.report import sales_report


def test_sales_report():
    report = json.loads(sales_report({"Blue Pen": 3, "Red Book": 7}))
    assert report == {"best_seller": "red-book", "products": 2}
"""

STATS_WITH_AVERAGE_ORDER = '''"""Sales statistics."""


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def average_order_value(orders: list[float]) -> float:
    """The mean of the orders, ignoring cancelled ones (recorded as 0)."""
    total = 0.0
    count = 0
    for i in range(1, len(orders)):
        if orders[i] > 0:
            total += orders[i]
            count += 1
    return total / count if count else 0.0


def best_seller(sales: dict[str, int]) -> str:
    return max(sales, key=sales.get)
'''

TEST_AVERAGE_ORDER = """from shop.stats import average_order_value


def test_average_ignores_cancelled():
    assert average_order_value([10.0, 0.0, 20.0]) == 15.0


def test_average_of_one_order():
    assert average_order_value([8.0]) == 8.0


def test_average_of_nothing():
    assert average_order_value([]) == 0.0
"""


def _read(path: str) -> str:
    return (PROJECT_DIR / path).read_text()


def demo_proposals() -> list[dict]:
    """Each: title, description, changes [{path, action, content}] — and the bug it carries."""
    return [
        {
            "title": "Add standard deviation to sales statistics",
            "description": "Uses math.sqrt but forgets `import math` (missing import).",
            "changes": [
                {"path": "shop/stats.py", "action": "modify", "content": STATS_WITH_STDEV},
                {"path": "tests/test_stdev.py", "action": "create", "content": TEST_STDEV},
            ],
        },
        {
            "title": "Bulk discount for large orders",
            "description": "Refers to `subtotl` instead of `subtotal` (misspelt name).",
            "changes": [
                {
                    "path": "shop/pricing.py",
                    "action": "modify",
                    "content": _read("shop/pricing.py") + BULK_DISCOUNT,
                },
                {"path": "tests/test_bulk.py", "action": "create", "content": TEST_BULK},
            ],
        },  # fmt: skip
        {
            "title": "Shelf labels",
            "description": "Imports `textutils` instead of `shop.textutils` (wrong import path).",
            "changes": [
                {"path": "shop/labels.py", "action": "create", "content": LABELS},
                {"path": "tests/test_labels.py", "action": "create", "content": TEST_LABELS},
            ],
        },
        {
            "title": "Median of sales",
            "description": "The new function's `def` line lacks its colon (syntax error).",
            "changes": [
                {"path": "shop/stats.py", "action": "modify", "content": STATS_WITH_MEDIAN},
                {"path": "tests/test_median.py", "action": "create", "content": TEST_MEDIAN},
            ],
        },
        {
            "title": "JSON sales report",
            "description": "Two bugs: no `import json`, and `textutils.slugfy` (misspelt attribute). "
            "Takes two attempts.",
            "changes": [
                {"path": "shop/report.py", "action": "create", "content": REPORT},
                {"path": "tests/test_report.py", "action": "create", "content": TEST_REPORT},
            ],
        },
        {
            "title": "Average order value",
            "description": "The loop starts at index 1 and skips the first order (off by one): "
            "no rule knows it; the mutation search finds it.",
            "changes": [
                {"path": "shop/stats.py", "action": "modify", "content": STATS_WITH_AVERAGE_ORDER},
                {
                    "path": "tests/test_average_order.py",
                    "action": "create",
                    "content": TEST_AVERAGE_ORDER,
                },
            ],
        },  # fmt: skip
    ]
