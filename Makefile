# Airlock. `make demo` runs the main job end to end; `make test` runs every test.
# Everything it needs is installed by `make deps` (npm: wrangler + Node 22; Go modules).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export NEXT_TELEMETRY_DISABLED := 1

PLUGINS := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))
PLUGIN_WASM := $(PLUGINS:%=build/plugins/%.wasm)
GO_SOURCES := $(shell find . -name '*.go' -not -path './node_modules/*' -not -path './.state/*') go.mod go.sum
SITE_SOURCES := $(shell find site -type f -not -path 'site/out/*' -not -path 'site/.next/*' -not -path 'site/node_modules/*')

.PHONY: all deps build edge bins plugins plugin site dev demo test test-unit test-site test-e2e screenshots bench check fuzz clean

all: build

## deps: npm packages (wrangler, Node 22) and Go modules
deps: node_modules/.installed
	$(GO) mod download

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## build: the edge Wasm, the airlock and airlock-agent binaries, the example plugins, the dashboard
build: deps edge bins plugins site

## site: the dashboard, a Next.js static export → build/site (served by wrangler dev, deployed to Pages)
site: build/site/index.html

build/site/index.html: $(SITE_SOURCES) .airlock/catalog.yml node_modules/.installed
	npm run --silent site:build
	rm -rf build/site
	@mkdir -p build
	cp -r site/out build/site

edge: build/edge/airlock.wasm build/edge/wasm_exec.js

build/edge/airlock.wasm: $(GO_SOURCES)
	@mkdir -p $(@D)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o $@ ./edge

build/edge/wasm_exec.js:
	@mkdir -p $(@D)
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $@

bins: build/bin/airlock build/bin/airlock-agent

build/bin/%: $(GO_SOURCES)
	@mkdir -p $(@D)
	$(GO) build -trimpath -o $@ ./agent/cmd/$*

plugins: $(PLUGIN_WASM)

build/plugins/%.wasm: $(GO_SOURCES)
	@mkdir -p $(@D)
	GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildmode=c-shared -o $@ ./plugins/$*

## plugin: one plugin, NAME=checksum → build/plugins/checksum.wasm (see plugins/README.md)
plugin:
	@test -n "$(NAME)" || { echo "usage: make plugin NAME=<dir under plugins/>"; exit 2; }
	$(MAKE) build/plugins/$(NAME).wasm

## dev: control plane on http://127.0.0.1:8787 (workerd) and one agent, until Ctrl-C
dev: build
	build/bin/airlock dev

## demo: dev + one run of this repository's own pipeline; exit status is the run's
demo: build
	build/bin/airlock dev --run .airlock/pipeline.yml

## test: unit tests, then end-to-end tests against the real Wasm build on workerd
test: build test-unit test-site test-e2e

test-unit:
	$(GO) test -count=1 ./...

test-site:
	npm run --silent site:typecheck
	npm run --silent site:test

test-e2e:
	$(GO) test -count=1 -tags e2e -timeout 20m ./internal/e2e/

## check: build for every target, vet, format, tidy, clean tree
check: build
	GOOS=js GOARCH=wasm $(GO) vet ./edge/...
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) mod tidy -diff
	test -z "$$(git status --porcelain)" || { echo "the tree is dirty after the build:"; git status --porcelain; exit 1; }

## fuzz: a short run of every fuzz test in the tree (FUZZTIME per test, default 10s)
FUZZTIME ?= 10s
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' agent edge internal plugins | sort | while read -r f; do \
		for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' "$$f" | cut -d' ' -f2); do \
			echo "--- $$fn ./$$(dirname "$$f")"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "./$$(dirname "$$f")" || exit 1; \
		done; \
	done

## screenshots: refresh docs/screenshots from the browser test against the real stack (needs chromium)
screenshots: build
	AIRLOCK_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -tags e2e -run TestDashboardInBrowser ./internal/e2e/

## bench: dispatch, admission and API latency on local workerd, masking throughput and step
## start latency → docs/BENCHMARKS.md (the container row needs an engine: run .ci/podman-setup
## and set AIRLOCK_TEST_DOCKER_HOST=unix:///run/airlock-podman.sock)
bench: build
	$(GO) run -tags e2e ./internal/e2e/bench -out docs/BENCHMARKS.md

clean:
	rm -rf build .state
