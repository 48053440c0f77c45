# Omnichat: the two commands that matter are `make run` and `make test`.

DEBS := libcurl4-openssl-dev libssl-dev libsqlite3-dev pkg-config
SWIFT ?= swift
CONFIG ?= debug
ARGS ?=

.PHONY: run install test test-cluster test-faults test-ui bench bench-smoke bench-cluster build deps bench-ingest bench-slow-readers bench-backup bench-allocation fuzz-api check-config clean

## Installs the Debian packages the build needs (when missing), builds, and
## starts omnichatd on 127.0.0.1:8080 with ./omnichat.db and ./adapters.d
## (ARGS="--port 9080" for another port). The build runs only when a source
## file is newer than the binary: a second `make run` starts at once.
SOURCES := Package.swift $(shell find Sources -type f -name '*.swift' -o -type f -name '*.c' -o -type f -name '*.h' 2>/dev/null)

run: deps .build/$(CONFIG)/omnichatd
	.build/$(CONFIG)/omnichatd serve $(ARGS)

.build/$(CONFIG)/omnichatd: $(SOURCES)
	$(SWIFT) build -c $(CONFIG) --product omnichatd
	@touch $@

## The whole test suite (CI runs exactly this), in one `swift test`: the store
## and end-to-end suites (marked `.bothEngines`) run each test on SQLite, then,
## when OMNICHAT_TEST_POSTGRES names a PostgreSQL server
## (scripts/postgres-test-server.sh starts a throw-away one), on PostgreSQL;
## the several-daemons suite (ClusterTests) needs that server too.
## Each test run has a deadline (OMNICHAT_TEST_DEADLINE seconds, 1200 by default;
## the build before it has none): a hung test prints every thread's backtrace
## and fails instead of hanging.
test: deps
	$(SWIFT) build --build-tests
	@if [ -n "$$OMNICHAT_TEST_POSTGRES" ]; then \
		echo "== every suite marked .bothEngines runs on SQLite, then on PostgreSQL ($$OMNICHAT_TEST_POSTGRES)"; \
	else \
		echo "note: OMNICHAT_TEST_POSTGRES is not set: the suites run on SQLite only (eval \"\$$(scripts/postgres-test-server.sh start)\" starts a throw-away server)"; \
	fi
	scripts/test-deadline.sh $(SWIFT) test --skip-build

## Three daemons on one PostgreSQL behind nginx, one SIGKILLed mid-run; prints the counts (CI runs it).
test-cluster: deps
	$(SWIFT) build --product omnichatd
	OMNICHAT_BIN=$(CURDIR)/.build/debug/omnichatd bash Tests/Cluster/run.sh

## Faults, proven: 24 SIGKILLs of omnichatd under a stream of webhooks from every
## network and agent replies, SIGTERM under load, outbound faults, a stalled store,
## 4,000 fuzzed requests per adapter, slow and smuggled requests, the access
## matrix, and the security review's attacks (private addresses, stalled and
## revoked streams, invitations, the sign-in throttle, CSV formulas, erasure);
## prints the counts (CI runs it).
test-faults: deps
	$(SWIFT) build --build-tests
	OMNICHAT_FAULT_KILLS=$${OMNICHAT_FAULT_KILLS:-24} OMNICHAT_FUZZ_ITERATIONS=$${OMNICHAT_FUZZ_ITERATIONS:-4000} \
		scripts/test-deadline.sh $(SWIFT) test --skip-build --filter 'FaultTests|BackPressureTests|HostileInputTests|FuzzTests|RoleMatrixTests|OutboundAddressTests|LiveEventsTests|TeamTests|ReportTests|PrivacyTests'

## The web console in headless Chromium against a real omnichatd and a fake network
## (installs chromium, chromium-driver and selenium when missing; screenshots in ui-screenshots/).
test-ui: build
	bash Tests/UI/run.sh

build: deps
	$(SWIFT) build -c $(CONFIG) --product omnichatd

## Installs omnichatd in $(PREFIX)/bin and the console in $(PREFIX)/share/omnichat/console
## (where the daemon looks for it when console_dir is left at its default).
PREFIX ?= /usr/local
install: deps
	$(SWIFT) build -c release --product omnichatd
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/omnichat
	install -m 755 .build/release/omnichatd $(DESTDIR)$(PREFIX)/bin/omnichatd
	rm -rf $(DESTDIR)$(PREFIX)/share/omnichat/console
	cp -R console $(DESTDIR)$(PREFIX)/share/omnichat/console

check-config: build
	.build/$(CONFIG)/omnichatd check-config $(ARGS)

## Every benchmark (release builds; figures with their same-run baselines; see BENCHMARKS.md).
bench: deps
	bash Benchmarks/run.sh

## A short run of every benchmark, to prove the programs work (CI runs it).
bench-smoke: deps
	SMOKE=1 bash Benchmarks/run.sh
	SMOKE=1 bash Benchmarks/cluster.sh

## Ingest and end-to-end latency with 1, 2 and 3 daemons on one PostgreSQL, beside SQLite (release builds).
bench-cluster: deps
	bash Benchmarks/cluster.sh

## Memory with 100 live streams whose clients stopped reading, under 1,000 webhooks/s for 60 s.
bench-slow-readers: deps
	bash Benchmarks/slow-readers.sh

## Webhook p99 while `omnichatd backup` copies a 1 GB SQLite database, against the same load without.
bench-backup: deps
	bash Benchmarks/backup.sh

## First ingest figure: durable Telegram webhooks/s vs a bare route of the same server.
bench-ingest: deps
	bash Benchmarks/ingest.sh

## Allocation decisions with 10,000 agents and 100,000 open rooms, and a 1,000-room queue drain.
bench-allocation: deps
	$(SWIFT) run -c release allocation-bench 10000 100000 2000 10000

## Fuzz the API with its OpenAPI document (schemathesis from PyPI): no 5xx allowed.
fuzz-api: build
	bash scripts/fuzz-api.sh

deps:
	@if ! pkg-config --exists libcurl sqlite3 2>/dev/null || ! dpkg -s libssl-dev >/dev/null 2>&1; then \
		echo "installing Debian packages: $(DEBS)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS); \
	fi

clean:
	rm -rf .build
