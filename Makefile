# Thin wrapper around CMake/CTest. `make run` and `make test` work on a fresh
# Debian machine: the deps step installs whatever package is missing.
BUILD_DIR ?= build
SAN_DIR ?= build-sanitize
JOBS ?= 2
CONF ?= conf/causalkv.conf

# Every package the build, the server and the tests need (Debian names).
DEB_PACKAGES := cmake g++ make pkg-config libuv1-dev libhiredis-dev libspdlog-dev \
                libgtest-dev redis-tools redis-server python3 python3-redis iptables

# Node.js and npm come from Debian only where no `node` is installed (this
# machine may have a newer Node.js from elsewhere, which Debian's npm conflicts
# with). The Node.js client tests' npm packages are installed with `npm ci`,
# exactly as pinned by the lock file, whenever node_modules is missing or older.
NODE_TESTS := redis-tests/node

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build server run test sanitize bench clean

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

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 600

sanitize: deps
	cmake -S . -B $(SAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAUSALKV_SANITIZE=ON
	cmake --build $(SAN_DIR) -j$(JOBS)
	cd $(SAN_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS) --timeout 900

bench: build
	bench/compare

clean:
	rm -rf $(BUILD_DIR) $(SAN_DIR)
