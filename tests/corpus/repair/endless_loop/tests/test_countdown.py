from countdown import countdown


def test_countdown_from_three():
    assert countdown(3) == [3, 2, 1]


def test_countdown_from_zero():
    assert countdown(0) == []
