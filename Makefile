# epollreactor's commands.  Every target sets up its virtualenv itself, so
# each works on a fresh clone.  PYTHON picks the interpreter; a non-default
# one gets a virtualenv of its own (.venv-pypy3 for PYTHON=pypy3).
PYTHON ?= python3
VENV ?= .venv$(if $(filter python3,$(PYTHON)),,-$(notdir $(PYTHON)))
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8080

.PHONY: venv test test-noepoll run bench

venv: $(STAMP)

# The default interpreter's virtualenv has the docs extra too, so that make
# test builds the API pages it reads in a browser (tests/test_apidocs.py);
# elsewhere that test skips, saying pydoctor is missing.
COMMA := ,
EXTRAS := test$(if $(filter python3,$(PYTHON)),$(COMMA)docs)

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[$(EXTRAS)]' --config-settings editable_mode=compat
	@touch $@

test: $(STAMP)
	$(VPY) -m pytest

# The whole suite on an interpreter whose select module has no epoll: the
# sitecustomize in tests/noepoll deletes select.epoll and the EPOLL* names at
# start-up.  Tests that compare with select.epoll or Twisted's stock epoll
# reactor skip (tests/conftest.py); everything else must pass.  The quick
# local check: the matrix's bookworm-noepoll runs the suite on a CPython
# built without epoll.
test-noepoll: $(STAMP)
	PYTHONPATH=$(CURDIR)/tests/noepoll$(if $(PYTHONPATH),:$(PYTHONPATH)) \
		$(VPY) -m pytest

# Twisted's whole suite (about 11,600 tests) under trial --reactor=ctypes-epoll
# and, in parallel, --reactor=epoll, compared test by test: fails when a test
# passes on stock and not on ours.  A few minutes, so not part of make test.
.PHONY: test-twisted-full
test-twisted-full: $(STAMP)
	$(VPY) -m tests.twistedsuites.compare --timeout=3600 twisted

# The interpreter and architecture matrix (.ci/matrix): Debian roots made
# with mmdebstrap and cached in /var/cache/epollreactor-matrix (MATRIX_CACHE=
# to move it); the whole suite on CPython 3.13, 3.14, 3.15 and PyPy 3.11
# (Debian unstable), on CPython 3.9 (Debian 11), and on CPython 3.11
# (Debian 12) built without epoll, with the oldest Twisted pyproject.toml
# admits, and with Debian's own python3-twisted; the binding, selector,
# libc and reactor tests on i386 (with Twisted's own reactor suites), and on
# arm64 and s390x under qemu-user-static.  MATRIX= names entries
# (.ci/matrix --list), all by default.  Needs root.
MATRIX ?=

.PHONY: test-matrix
test-matrix:
	.ci/matrix $(MATRIX)

# The state machines (epollreactor.contract, run by
# tests/test_statemachine_*.py) for a long run: the
# Hypothesis "fuzz" profile (tests/conftest.py), FUZZ_EXAMPLES examples of
# each machine, with Hypothesis's statistics.  Failing examples are kept in
# .hypothesis/ and replayed first next time; each one found becomes a test in
# tests/test_regressions.py.  Each machine runs for minutes, so the per-test
# timeout of make test is off.
FUZZ_EXAMPLES ?= 20000

.PHONY: fuzz
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VPY) -m pytest \
		--hypothesis-profile=fuzz --hypothesis-show-statistics --timeout=0 \
		tests/test_statemachine_reactor.py tests/test_statemachine_epoll.py \
		tests/test_statemachine_registrations.py

# The reactor contract's command (epollreactor.contract) for a brief run:
# against ours, which must hold every rule, and against Twisted's stock
# epoll reactor, which must break the rules it breaks today (checked by
# name: CONTRACT_STOCK_BREAKS).  Rounds of CONTRACT_EXAMPLES examples
# until one finds nothing new, however long that takes (--seconds 0), so
# that what is judged does not depend on the machine's speed; a minute
# or two.
CONTRACT_EXAMPLES ?= 200
CONTRACT_STOCK_BREAKS ?= remove-never-raises,ready-gets-called,add-accepts-open-descriptor,lists-what-was-added,only-while-wanted

.PHONY: contract
contract: $(STAMP)
	$(VPY) -m epollreactor.contract epollreactor.EPollReactor \
		--examples $(CONTRACT_EXAMPLES) --seconds 0
	$(VPY) -m epollreactor.contract twisted.internet.epollreactor.EPollReactor \
		--examples $(CONTRACT_EXAMPLES) --seconds 0 --expect=$(CONTRACT_STOCK_BREAKS)

# The mutation check (tests/mutate.py): each planted bug of its list, one
# at a time in a copy of the tree, against the tests listed to catch it;
# fails when one is not caught or its snippet is no longer in the code.
# MUTANTS (comma-separated names) narrows it; MUTATE_WHOLE=1 runs the whole
# suite for each bug and checks that the listed tests are among the catchers.
.PHONY: mutate
mutate: $(STAMP)
	$(VPY) -m tests.mutate $(if $(MUTANTS),"--only=$(MUTANTS)") \
		$(if $(MUTATE_WHOLE),--whole)

# Types and lint: mypy --strict over the package (configured in
# pyproject.toml's [tool.mypy]), ruff's checks and its formatter's over
# the whole tree ([tool.ruff]).
LINT_STAMP := $(VENV)/.installed-lint

$(LINT_STAMP): $(STAMP)
	$(VPY) -m pip install -q -e '.[lint]' --config-settings editable_mode=compat
	@touch $@

.PHONY: lint
lint: $(LINT_STAMP)
	$(VPY) -m mypy --strict epollreactor
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .

# The API pages: pydoctor's HTML from the epytext docstrings, in $(DOCS)
# (git-ignored, as all of build/ is); open $(DOCS)/index.html.  Any
# pydoctor warning fails the build (-W), a broken L{} link among them.
# Links to Python's and Twisted's own pages resolve through their object
# inventories, made or found locally, so the build needs no network:
# Twisted's is made by pydoctor from the installed Twisted's internet and
# python packages, Python's comes from Debian's python3-doc (installed
# here when missing and running as root); the links point to
# docs.twisted.org and docs.python.org.
DOCS ?= build/apidocs
DOCS_STAMP := $(VENV)/.installed-docs
TWISTED_INVENTORY := $(VENV)/twisted-inventory/objects.inv

$(DOCS_STAMP): $(STAMP)
	$(VPY) -m pip install -q -e '.[docs]' --config-settings editable_mode=compat
	@touch $@

$(TWISTED_INVENTORY): $(DOCS_STAMP)
	@tree=$$(mktemp -d) && \
	twisted=$$($(VPY) -c 'import os, twisted; print(os.path.dirname(twisted.__file__))') && \
	mkdir "$$tree/twisted" && cp "$$twisted/__init__.py" "$$tree/twisted/" && \
	ln -s "$$twisted/internet" "$$twisted/python" "$$tree/twisted/" && \
	$(VPY) -m pydoctor --make-intersphinx --project-name=Twisted -q -q \
		--html-output=$(dir $@) "$$tree/twisted" >/dev/null; \
	status=$$?; rm -rf "$$tree"; exit $$status

.PHONY: docs
docs: $(TWISTED_INVENTORY)
	@ls /usr/share/doc/python3*/html/objects.inv >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get install -y -q python3-doc >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q python3-doc >/dev/null; }; \
		else echo "Python's object inventory is missing: apt-get install python3-doc"; exit 1; fi; }
	rm -rf $(DOCS)
	$(VPY) -m pydoctor --docformat=epytext --project-name=epollreactor \
		--project-version=$$($(VPY) -c 'import epollreactor; print(epollreactor.__version__)') \
		--html-output=$(DOCS) --warnings-as-errors -q \
		--intersphinx-file=$$(ls /usr/share/doc/python3*/html/objects.inv | head -n 1)::https://docs.python.org/3/ \
		--intersphinx-file=$(TWISTED_INVENTORY)::https://docs.twisted.org/en/stable/api/ \
		epollreactor

# twisted.web serving this folder, in the foreground; twistd's log names the
# reactor class it runs on, and Ctrl-C stops it.
run: $(STAMP)
	$(VENV)/bin/twistd --nodaemon --pidfile= --logfile=- --reactor=ctypes-epoll \
		web --listen tcp:port=$(PORT):interface=127.0.0.1 --path .

# The benchmark suite (bench/README.md): echo at five message sizes on 1
# and 50 connections, a one-way stream, Twisted's portforward proxy and
# twisted.web under wrk, deferToThread under load, echo beside 10,000 idle
# connections and connection churn, on every peer reactor; then the binding
# micro-benchmarks, the import time and timers' lateness.  ROUNDS and
# SECONDS set its length; PEERS and SCENARIOS (comma-separated) narrow it.
# bench/run.py measures, bench/report.py writes the tables and chart to
# bench/results/.
ROUNDS ?= 3
SECONDS ?= 2
BENCH_STAMP := $(VENV)/.installed-bench

# $(call debian-tool,PACKAGE,WHAT-IS-LEFT-OUT): install the Debian package
# whose command has its name when that command is missing and we are root
# with apt-get; else say what goes without it.
define debian-tool
@command -v $(1) >/dev/null || { \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q $(1) >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q $(1) >/dev/null; }; \
	else echo "$(1) is missing (apt-get install $(1)): $(2)"; fi; }
endef

# uvloop and matplotlib have no wheels for PyPy, and pip would try to build
# them from source: there the suite runs without the uvloop peer and without
# the chart, and pyperf comes without psutil (no PyPy wheel either), which
# it does without on Linux.  wrk, the HTTP load generator, comes from
# Debian's packages; without it (and without root to install it) the HTTP
# scenarios are left out.
$(BENCH_STAMP): $(STAMP)
	$(call debian-tool,wrk,no HTTP scenarios)
	@if $(VPY) -c 'import platform, sys; sys.exit(platform.python_implementation() != "CPython")'; \
	then $(VPY) -m pip install -q -e '.[bench]' --config-settings editable_mode=compat; \
	else $(VPY) -m pip install -q --no-deps pyperf && \
		echo "not CPython: benchmarking without uvloop and matplotlib"; fi
	@touch $@

bench: $(BENCH_STAMP)
	PEERS=$(PEERS) SCENARIOS=$(SCENARIOS) \
		$(VPY) bench/run.py --rounds $(ROUNDS) --seconds $(SECONDS)
	$(VPY) bench/bench_binding.py $(PYPERF)
	$(VPY) bench/bench_registrations.py $(PYPERF)
	$(VPY) bench/bench_memory.py $(PYPERF)
	$(VPY) bench/bench_import.py
	$(VPY) bench/bench_threads.py
	$(VPY) bench/bench_timers.py
	$(VPY) bench/bench_workers.py --seconds $(SECONDS)

# Other people's benchmarks in our suite (bench/README.md, "Other people's
# benchmarks"): Twisted's test_tcp_throughput, the legacy tcp_connect and
# accepts, uvloop's vmbench echo and wrk -c 200 on twist web, on every peer,
# into bench/results/others/; about 15 minutes.  SCENARIOS=tcp-throughput
# (any names of run.py's) runs one, PEERS narrows the peers.
.PHONY: bench-others
bench-others: $(BENCH_STAMP)
	PEERS=$(PEERS) $(VPY) bench/run.py --rounds $(ROUNDS) --seconds $(SECONDS) \
		--scenarios $(or $(SCENARIOS),others) --output bench/results/others

# twist web on every core (bench/README.md, "Every core"): one process,
# stock Twisted's N processes on one inherited socket, and
# epollreactor.workers with each strategy, with 2, 4 and 8 workers, under
# wrk; then a rolling restart of each strategy under load.  About ten
# minutes with SECONDS=3.
.PHONY: bench-workers
bench-workers: $(BENCH_STAMP)
	$(VPY) bench/bench_workers.py --seconds $(SECONDS)

# Stalls inside a proxied response (bench/README.md, "Stalls inside a
# proxied response"): Twisted's portforward proxy under wrk, 18 runs of 2 s
# per peer under tcpdump (installed as wrk is); about five minutes.  PEERS
# narrows the peers.
.PHONY: bench-proxy-stalls
bench-proxy-stalls: $(BENCH_STAMP)
	$(call debian-tool,tcpdump,the capture cannot run)
	$(VPY) bench/bench_proxy_stalls.py --seconds $(SECONDS) \
		$(if $(PEERS),--peers $(PEERS))

# What "import epollreactor" costs a fresh interpreter, beside "import
# select" (bench/README.md, "Import time"); about a minute.
.PHONY: bench-import
bench-import: $(STAMP)
	$(VPY) bench/bench_import.py

# The micro-benchmarks run on pyperf (bench/README.md, "Micro-benchmarks");
# PYPERF passes it options: --fast for a quick look, -p N for N worker
# processes, --rigorous.
PYPERF ?=

# The binding micro-benchmark alone (bench/README.md): epollreactor.epoll
# against select.epoll, call for call; about two minutes.
.PHONY: bench-binding
bench-binding: $(BENCH_STAMP)
	$(VPY) bench/bench_binding.py $(PYPERF)

# The four micro-benchmarks: the binding, the dispatch, the cost beside
# many registrations and the epoll object's memory.
.PHONY: bench-micro
bench-micro: $(BENCH_STAMP)
	$(VPY) bench/bench_binding.py $(PYPERF)
	$(VPY) bench/bench_dispatch.py $(PYPERF)
	$(VPY) bench/bench_registrations.py $(PYPERF)
	$(VPY) bench/bench_memory.py $(PYPERF)

# Threads polling one epoll object, ours against select.epoll, with the
# result buffers made per poll (bench/README.md, "Threads polling one
# object"); about two minutes.  BEFORE=REV adds _epoll.py as of REV.
BEFORE ?=

.PHONY: bench-threads
bench-threads: $(STAMP)
	$(VPY) bench/bench_threads.py $(if $(BEFORE),--before $(BEFORE))

# What one stale removal, one close and one dispatched event cost beside
# 1,000 to 16,000 idle registrations, ours and stock (bench/README.md, "Cost
# beside many registrations"); about a minute.
.PHONY: bench-registrations
bench-registrations: $(BENCH_STAMP)
	$(VPY) bench/bench_registrations.py $(PYPERF)
