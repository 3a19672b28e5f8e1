# Junction's build. `make test` is the one test command (README, .ci/run).
GO          ?= go
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
# helm renders and lints the chart in deploy/helm (Debian has no package;
# it builds from the module proxy).
HELM_VERSION := v3.21.4
HELM        := $(GOBIN)/helm
BIN         := bin/junction
JSDEPS      := testdata/js/node_modules

.PHONY: build run test test-deps vet lint bench fuzz clean release

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/junction

# Runs the broker with its defaults: every protocol on 127.0.0.1, journal in ./data.
run: build
	./$(BIN) serve

# Installs what the tests need on a fresh Debian machine (as root): Debian's
# chromium for the browser tests, mosquitto-clients for MQTT interop, and the
# browser clients (stomp.js, MQTT.js) from npm.
test-deps: $(HELM)
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v mosquitto_pub >/dev/null || missing="$$missing mosquitto-clients"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@[ -d $(JSDEPS)/@stomp/stompjs ] && [ -d $(JSDEPS)/mqtt ] || \
		npm install --silent --no-audit --no-fund --prefix testdata/js >/dev/null

$(HELM):
	$(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

vet:
	$(GO) vet ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: $(STATICCHECK)
	$(STATICCHECK) ./...

# The second run builds the ranked locks with their checker (internal/lockorder):
# a lock taken against the order in docs/ARCHITECTURE.md panics.
test: test-deps vet lint
	$(GO) test -race -timeout 20m ./...
	$(GO) test -race -tags lockorder -timeout 10m ./internal/lockorder ./core/... ./protocols/stomp/... ./protocols/mqtt/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Static binaries for linux/amd64 and linux/arm64 with their checksums, in
# dist/. The version is the nearest tag (or the commit), the build date the
# commit's: two builds of one commit are the same bytes.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
release:
	rm -rf dist && mkdir -p dist
	for arch in amd64 arm64; do \
		GOOS=linux GOARCH=$$arch deploy/build-binary.sh dist/junction-$(VERSION)-linux-$$arch $(VERSION) $(COMMIT) $(BUILD_DATE) || exit 1; \
	done
	cd dist && sha256sum junction-* > SHA256SUMS
	@cat dist/SHA256SUMS

clean:
	rm -rf bin dist
