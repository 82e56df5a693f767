def countdown(n):
    """[n, n-1, ..., 1]"""
    result = []
    while n > 0:
        result.append(n)
        n += 1
    return result
