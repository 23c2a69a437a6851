# Convenience targets; everything also works with plain `go` commands.
GO ?= go

.PHONY: glue guest test perf clean

# A static binary: no cgo, so it runs on any Linux with KVM.
glue:
	CGO_ENABLED=0 $(GO) build -trimpath -o glue ./cmd/glue

# Rebuilds the committed guest ELF (needs gcc and binutils).
guest:
	$(MAKE) -C guest

test:
	$(GO) test -timeout 30m ./...

perf:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./test/perf/

clean:
	rm -f glue
