def nth_prime(n):
    return n
