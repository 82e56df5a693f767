"""The algorithms of selfheal, in pure Python: no Django, no app imports. Apps turn results into rows."""
