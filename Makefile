# epollreactor's commands.  Every target sets up its virtualenv itself, so
# each works on a fresh clone.  PYTHON picks the interpreter; a non-default
# one gets a virtualenv of its own (.venv-pypy3 for PYTHON=pypy3).
PYTHON ?= python3
VENV ?= .venv$(if $(filter python3,$(PYTHON)),,-$(notdir $(PYTHON)))
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8080

.PHONY: venv test run

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	@touch $@

test: $(STAMP)
	$(VPY) -m pytest

# twisted.web serving this folder, in the foreground; twistd's log names the
# reactor class it runs on, and Ctrl-C stops it.
run: $(STAMP)
	$(VENV)/bin/twistd --nodaemon --pidfile= --logfile=- --reactor=ctypes-epoll \
		web --listen tcp:port=$(PORT):interface=127.0.0.1 --path .
