"""
Scenarios that run unchanged against Twisted's stock C{EPollReactor} and
ours; L{tests.scenarios.compare} prints the table, and the test modules
assert that ours passes each one.
"""
