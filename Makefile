# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
JOBS ?= $(shell nproc)
.PHONY: deps build demo test test-release test-asan clean

deps:
	@./scripts/install-deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

demo: build
	./scripts/demo.sh

test: deps
	./scripts/run-tests.sh

test-release: deps
	cmake --preset release >/dev/null && cmake --build --preset release -j $(JOBS) && ctest --preset release -j $(JOBS)

test-asan: deps
	cmake --preset asan-ubsan >/dev/null && cmake --build --preset asan-ubsan -j $(JOBS) && ctest --preset asan-ubsan -j $(JOBS)

clean:
	rm -rf build
