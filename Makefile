# Convenience targets; everything also works with plain `go` commands.
GO ?= go

.PHONY: glue guest test perf perf-doc clean

# A static binary: no cgo, so it runs on any Linux with KVM.
glue:
	CGO_ENABLED=0 $(GO) build -trimpath -o glue ./cmd/glue

# Rebuilds the committed guest ELF (needs gcc and binutils).
guest:
	$(MAKE) -C guest

test:
	$(GO) test -timeout 30m ./...

# glue next to QEMU microvm on the same guest; see docs/performance.md.
perf:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./test/perf/

# The same, rewriting the results table in docs/performance.md.
perf-doc:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./test/perf/ -args -update-doc

clean:
	rm -f glue
