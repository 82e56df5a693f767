from primes import nth_prime


def test_first_primes():
    assert [nth_prime(i) for i in range(1, 6)] == [2, 3, 5, 7, 11]
