# sitegate — see README.md. Every target works on a fresh clone.
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHTIME   ?= 2s

.PHONY: run test bench lint build clean

## run: the demo gateway on an embedded default site (./demo-data)
run:
	$(GO) run ./cmd/sitegate demo

## test: vet and the race-enabled test suite (what CI runs)
test:
	$(GO) vet ./...
	$(GO) test -race -timeout 30m ./...

## bench: every benchmark, figures for the README's performance table
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

## lint: formatting, vet and staticcheck
lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## build: the sitegate binary into bin/
build:
	$(GO) build -trimpath -o bin/sitegate ./cmd/sitegate

clean:
	rm -rf bin
