# The projects in this directory are buggy on purpose: they are inputs for the repair engine's
# tests, not tests of selfheal. Keep pytest from collecting them.
collect_ignore_glob = ["*"]
