# Thin wrapper around CMake/CTest. `make run` and `make test` work on a fresh
# Debian machine: the deps step installs whatever package is missing.
BUILD_DIR ?= build
SAN_DIR ?= build-sanitize
JOBS ?= 2
CONF ?= conf/causalkv.conf

# Every package the build, the server and the tests need (Debian names).
DEB_PACKAGES := cmake g++ make pkg-config libuv1-dev libhiredis-dev libspdlog-dev \
                libgtest-dev redis-tools redis-server python3 python3-redis python3-rq python3-celery iptables clang \
                liblua5.1-0-dev lua-cjson-dev lua-bitop-dev \
                libclang-rt-dev gnuplot-nox \
                dpkg-dev debhelper lintian logrotate strace groff-base

# Node.js and npm come from Debian only where no `node` is installed (this
# machine may have a newer Node.js from elsewhere, which Debian's npm conflicts
# with). The Node.js client tests' npm packages are installed with `npm ci`,
# exactly as pinned by the lock file, whenever node_modules is missing or older.
NODE_TESTS := redis-tests/node

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build server run test sanitize bench clean cluster cluster-stop install deb \
        test-package

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@if [ ! -e $(NODE_TESTS)/node_modules/.package-lock.json ] || \
	    [ $(NODE_TESTS)/package-lock.json -nt $(NODE_TESTS)/node_modules/.package-lock.json ]; then \
	  echo "installing the npm packages of $(NODE_TESTS) (npm ci)"; \
	  cd $(NODE_TESTS) && npm ci --no-audit --no-fund; \
	fi

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

# Only the server: `make run` should not wait for the test binaries.
server: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS) --target causalkv-server

run: server
	$(BUILD_DIR)/causalkv-server $(CONF)

# Three nodes on this machine, each on its own loopback address (127.0.0.1-3,
# port CLUSTER_PORT), data and logs under cluster-data/. `make cluster-stop`
# stops them (SIGTERM: a clean stop keeps each node's id).
CLUSTER_PORT ?= 7000
CLUSTER_SECRET ?= change-me
cluster: server
	@mkdir -p cluster-data
	@for i in 1 2 3; do \
	  peers=""; for j in 1 2 3; do [ $$j = $$i ] || peers="$$peers 127.0.0.$$j:$(CLUSTER_PORT)"; done; \
	  mkdir -p cluster-data/node$$i; \
	  $(BUILD_DIR)/causalkv-server $(CONF) --bind 127.0.0.$$i --port $(CLUSTER_PORT) \
	    --dir $(CURDIR)/cluster-data/node$$i --peers $$peers --peer-secret $(CLUSTER_SECRET) \
	    --appendonly yes --daemonize yes --pidfile $(CURDIR)/cluster-data/node$$i.pid \
	    --logfile $(CURDIR)/cluster-data/node$$i.log || exit 1; \
	done
	@echo "three nodes up: redis-cli -h 127.0.0.1 -p $(CLUSTER_PORT) (and 127.0.0.2, 127.0.0.3); make cluster-stop"

cluster-stop:
	@for i in 1 2 3; do \
	  f=cluster-data/node$$i.pid; [ -f $$f ] && kill $$(cat $$f) 2>/dev/null; rm -f $$f; \
	done; true

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 600

# The randomized history checker (redis-tests/test_chaos.py) for longer than
# its short run in `make test`: CHAOS_RUNS runs of CHAOS_SECONDS each, each
# with a new random seed, printed first so a failure reproduces with
# `make chaos CHAOS_SEED=n` (which runs that one seed).
CHAOS_SECONDS ?= 300
CHAOS_RUNS ?= 3
CHAOS_PYTHON ?= /usr/bin/python3
.PHONY: chaos
chaos: build
	@runs=$(CHAOS_RUNS); [ -z "$$CHAOS_SEED" ] || runs=1; \
	for i in $$(seq $$runs); do \
	  seed=$${CHAOS_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	  echo "chaos run $$i of $$runs: CHAOS_SEED=$$seed CHAOS_SECONDS=$(CHAOS_SECONDS)"; \
	  (cd redis-tests && CHAOS_SEED=$$seed CHAOS_SECONDS=$(CHAOS_SECONDS) \
	    CAUSALKV_SERVER=$(abspath $(BUILD_DIR))/causalkv-server \
	    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 $(CHAOS_PYTHON) test_chaos.py) || exit 1; \
	done

# libFuzzer targets (tests/fuzz/*_fuzz.cc), built with clang, ASan and UBSan
# in FUZZ_DIR, each run for FUZZ_SECONDS on its seeds (tests/fuzz/corpus/, made
# by make_corpus.py) plus what earlier runs found (FUZZ_DIR/corpus/). A crash
# or failed property stops with the input in FUZZ_DIR/findings/; rerun it with
# `FUZZ_DIR/fuzz/fuzz_<target> <file>`. One target: `make fuzz FUZZ_TARGETS=glob`.
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= $(JOBS)
FUZZ_TARGETS ?= resp_parser split_args config snapshot aof high_water_mark context_token \
                key_state glob collections
.PHONY: fuzz fuzz-build
fuzz-build: deps
	cmake -S . -B $(FUZZ_DIR) -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_BUILD_TYPE=Debug -DCAUSALKV_FUZZ=ON -DCAUSALKV_BUILD_TESTS=OFF
	cmake --build $(FUZZ_DIR) -j$(FUZZ_JOBS) --target fuzzers
	python3 tests/fuzz/make_corpus.py tests/fuzz/corpus

fuzz: fuzz-build
	@mkdir -p $(FUZZ_DIR)/findings $(FUZZ_DIR)/logs
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	  dict=""; [ -f tests/fuzz/corpus/$$t.dict ] && dict="-dict=tests/fuzz/corpus/$$t.dict"; \
	  log=$(FUZZ_DIR)/logs/$$t.log; \
	  printf '%-16s %3s s: ' $$t $(FUZZ_SECONDS); \
	  if $(FUZZ_DIR)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 \
	       -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/findings/$$t- $$dict \
	       $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t >$$log 2>&1; then \
	    grep -E '^#[0-9]+[[:space:]]+DONE' $$log | sed 's/^#/runs /'; \
	  else \
	    echo "FAILED"; tail -n 60 $$log; \
	    echo "reproduce: $(FUZZ_DIR)/fuzz/fuzz_$$t $$(grep -o '$(FUZZ_DIR)/findings/[^ ]*' $$log | tail -n 1)"; \
	    exit 1; \
	  fi; \
	done
	@if [ "$(DIFF_SECONDS)" != 0 ]; then $(MAKE) --no-print-directory differential; fi

# The differential test against redis-server (redis-tests/test_differential.py)
# for DIFF_SECONDS with a random seed, printed first; rerun a failure with
# `make differential DIFF_SEED=n` (`make test` runs a short fixed-seed one).
DIFF_SECONDS ?= 120
DIFF_PYTHON ?= /usr/bin/python3
.PHONY: differential
differential: build
	@seed=$${DIFF_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "differential: DIFF_SEED=$$seed DIFF_SECONDS=$(DIFF_SECONDS)"; \
	cd redis-tests && DIFF_SEED=$$seed DIFF_SECONDS=$(DIFF_SECONDS) \
	  CAUSALKV_SERVER=$(abspath $(BUILD_DIR))/causalkv-server \
	  PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 $(DIFF_PYTHON) test_differential.py

# The soak run (redis-tests/soak.py): a mixed workload (strings, versioned
# writes with siblings, expiry, eviction, log rewrites, BGSAVE, connection
# churn) against one node for half of SOAK_SECONDS, then against a three-node
# cluster whose third node is restarted now and then. It fails on a wrong
# reply, a server that dies, or a metric (RSS, used_memory, open fds, clients,
# p99.9 latency) that keeps rising; it writes soak.png, summary.md,
# samples.csv and the server logs to SOAK_OUT. The seed is printed first;
# `make soak SOAK_SEED=n` reruns one (thread timing still varies).
SOAK_SECONDS ?= 600
SOAK_OUT ?= $(CURDIR)/soak-out
SOAK_PYTHON ?= /usr/bin/python3
.PHONY: soak
soak: server
	cd redis-tests && SOAK_SECONDS=$(SOAK_SECONDS) SOAK_OUT=$(abspath $(SOAK_OUT)) \
	  CAUSALKV_SERVER=$(abspath $(BUILD_DIR))/causalkv-server \
	  PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 $(SOAK_PYTHON) soak.py

sanitize: deps
	cmake -S . -B $(SAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAUSALKV_SANITIZE=ON
	cmake --build $(SAN_DIR) -j$(JOBS)
	cd $(SAN_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS) --timeout 900

bench: build
	bench/compare

# The server, its config (with the service's paths), the systemd unit, the
# logrotate file and the man page under PREFIX, staged under DESTDIR when set
# (cmake/install.cmake). It creates no user and no directories under /var:
# the Debian package does that (`make deb`).
PREFIX ?= /usr/local
install: server
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The Debian package, built the Debian way (debian/, dpkg-buildpackage and
# debhelper) from a copy of the sources the server needs, so the build leaves
# nothing in the tree: DEB_DIR/causalkv-server_<version>_<arch>.deb.
DEB_DIR ?= build-deb
deb: deps
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/causalkv
	tar -cf - CMakeLists.txt cmake conf debian include man src | tar -xf - -C $(DEB_DIR)/causalkv
	cd $(DEB_DIR)/causalkv && dpkg-buildpackage -b -us -uc -j$(JOBS)
	@ls $(DEB_DIR)/*.deb

# Installs the package on this machine (root, or sudo), runs it as the
# causalkv user, purges it and checks nothing is left (redis-tests/test_package.py).
# Not part of `make test`: it changes the machine (a package, a system user).
test-package: deb
	$(SUDO) env DEB_DIR=$(abspath $(DEB_DIR)) PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
	  /usr/bin/python3 redis-tests/test_package.py

clean:
	rm -rf $(BUILD_DIR) $(SAN_DIR) $(FUZZ_DIR) $(DEB_DIR)
