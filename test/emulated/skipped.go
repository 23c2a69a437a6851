package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// kvmSkip is how hosttest marks a test that skipped for want of /dev/kvm.
const kvmSkip = `[skip reason "` + reasonKVM + `"`

// testEvent is the part of a `go test -json` line (cmd/test2json) this
// program reads and writes.
type testEvent struct {
	Time    string `json:",omitempty"`
	Action  string
	Package string
	Test    string  `json:",omitempty"`
	Elapsed float64 `json:",omitempty"`
	Output  string  `json:",omitempty"`
}

// pkgTests are the top-level tests of one package, in the order the host
// report first named them.
type pkgTests struct {
	Package string
	Tests   []string
}

// skippedForKVM reads the host's `go test -json` and returns, per package,
// the top-level tests of every test or subtest that skipped because the
// host has no /dev/kvm: those are what the emulated machine runs.
func skippedForKVM(r io.Reader) ([]pkgTests, error) {
	var out []pkgTests
	index := map[string]int{}    // package → position in out
	seen := map[[2]string]bool{} // package, top-level test: listed
	kvm := map[[2]string]bool{}  // package, test: printed the kvm skip
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 1<<20), 16<<20)
	for s.Scan() {
		var e testEvent
		if line := s.Bytes(); len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.Test == "" {
			continue
		}
		key := [2]string{e.Package, e.Test}
		switch e.Action {
		case "output":
			if strings.Contains(e.Output, kvmSkip) {
				kvm[key] = true
			}
		case "skip":
			if !kvm[key] {
				continue
			}
			top, _, _ := strings.Cut(e.Test, "/")
			if seen[[2]string{e.Package, top}] {
				continue
			}
			seen[[2]string{e.Package, top}] = true
			i, ok := index[e.Package]
			if !ok {
				i = len(out)
				index[e.Package] = i
				out = append(out, pkgTests{Package: e.Package})
			}
			out[i].Tests = append(out[i].Tests, top)
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read the host's go test -json: %w", err)
	}
	return out, nil
}

// runPattern is the -test.run pattern that selects exactly tests.
func runPattern(tests []string) string {
	return "^(" + strings.Join(tests, "|") + ")$"
}
