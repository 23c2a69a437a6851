# Convenience targets; everything also works with plain `go` commands.
GO ?= go

.PHONY: glue guest test fuzz vulncheck perf perf-doc clean

# A static binary: no cgo, so it runs on any Linux with KVM.
glue:
	CGO_ENABLED=0 $(GO) build -trimpath -o glue ./cmd/glue

# Rebuilds the committed guest ELF (needs gcc and binutils).
guest:
	$(MAKE) -C guest

test:
	$(GO) test -timeout 30m ./...

# Every fuzz target of the module for FUZZTIME each (default 1m), on top of
# its seed corpus; a crash leaves its input in the package's testdata/fuzz.
FUZZTIME ?= 1m
fuzz:
	FUZZTIME=$(FUZZTIME) ./.ci/fuzz

# govulncheck over the module, with its database built from golang.org/x/vulndb.
vulncheck:
	./.ci/vulncheck

# glue next to QEMU microvm on the same guest, and for start-up and exits
# also next to kvmtool (GLUE_PERF_KVMTOOL=path/to/lkvm) and the suite's bare
# C harness; three rounds of each benchmark; see docs/performance.md. -v
# shows every run's line.
PERF = $(GO) test -v -count 1 -timeout 60m -run '^$$' -bench . -benchtime 1x ./test/perf/
perf:
	$(PERF)

# The same, rewriting the results and verdicts in docs/performance.md.
perf-doc:
	$(PERF) -args -update-doc

clean:
	rm -f glue
