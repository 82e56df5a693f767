from stats import mean


def test_mean():
    assert mean([1, 2, 3]) == 2


def test_mean_of_nothing_is_zero():
    assert mean([]) == 0
