"""
Twisted's own test suites run against L{epollreactor.EPollReactor} and,
in a separate process, against Twisted's stock
L{twisted.internet.epollreactor.EPollReactor}, compared test by test.

 - L{tests.twistedsuites.runtrial}: C{python -m tests.twistedsuites.runtrial}
   runs C{trial} with a reporter that records every test's outcome as a JSON
   line, and can point the ReactorBuilder suites at one reactor.
 - L{tests.twistedsuites.compare}: runs both reactors' suites in parallel
   subprocesses, reads the records and lists every test that passes on stock
   and not on ours; C{python -m tests.twistedsuites.compare} is the command
   line behind C{make test-twisted-full}.
"""
