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

.PHONY: build run test test-deps vet lint bench fuzz clean conformance-matrix release

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/junction

# Runs the broker with its defaults: every protocol on 127.0.0.1, journal in ./data.
run: build
	./$(BIN) serve

# Installs what the tests need on a fresh Debian machine (as root): Debian's
# chromium for the browser tests, mosquitto-clients for MQTT interop, Qpid
# Proton's Python binding, its examples and the C++ library they build with (g++) for
# AMQP interop, a JDK and the
# ActiveMQ JMS client for OpenWire, postgresql for the PostgreSQL store (the
# tests start private servers with its initdb and pg_ctl), and the JavaScript
# clients (stomp.js, MQTT.js, rhea) from npm; systemd-analyze and helm check
# the files in deploy/.
test-deps: $(HELM)
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v mosquitto_pub >/dev/null || missing="$$missing mosquitto-clients"; \
	/usr/bin/python3 -c 'import proton' 2>/dev/null || missing="$$missing python3-qpid-proton"; \
	[ -f /usr/share/proton/examples/python/simple_send.py ] || missing="$$missing libqpid-proton11-dev-examples"; \
	[ -f /usr/include/proton/container.hpp ] || missing="$$missing libqpid-proton-cpp12-dev"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v javac >/dev/null || missing="$$missing default-jdk-headless"; \
	[ -f /usr/share/java/activemq-client.jar ] || missing="$$missing libactivemq-java"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@[ -d $(JSDEPS)/@stomp/stompjs ] && [ -d $(JSDEPS)/mqtt ] && [ -d $(JSDEPS)/rhea ] || \
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

# Runs the conformance suite against Junction and the anchor brokers that
# are running (../shared/anchors) and rewrites docs/CONFORMANCE.md.
conformance-matrix:
	scripts/conformance-matrix.sh

clean:
	rm -rf bin dist
