from shop.stats import best_seller, mean


def test_mean():
    assert mean([1.0, 2.0, 3.0]) == 2.0


def test_best_seller():
    assert best_seller({"pen": 3, "book": 7}) == "book"
