package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// toEvents turns a test binary's -test.v=test2json output into go test
// -json events, as go test itself does (cmd/test2json). code is the
// binary's exit code: a binary that died without saying FAIL (a panic, a
// timeout) still fails its package.
func toEvents(ctx context.Context, pkg string, lines []string, code int, ended bool) ([]testEvent, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "test2json", "-t", "-p", pkg)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool test2json: %w: %s", err, stderr.Bytes())
	}
	var events []testEvent
	pkgResult := false
	for _, l := range bytes.Split(out, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var e testEvent
		if err := json.Unmarshal(l, &e); err != nil {
			return nil, fmt.Errorf("go tool test2json printed %q: %w", l, err)
		}
		pkgResult = pkgResult || e.Test == "" && (e.Action == "pass" || e.Action == "fail")
		events = append(events, e)
	}
	if ended && code != 0 && !pkgResult {
		events = append(events,
			testEvent{Action: "output", Package: pkg, Output: fmt.Sprintf("the test binary exited with status %d\n", code)},
			testEvent{Action: "fail", Package: pkg})
	}
	return events, nil
}

// finished returns the top-level tests that have a result in events.
func finished(events []testEvent) []string { return topLevel(events, "pass", "fail", "skip") }

// failedTests returns the top-level tests that failed in events.
func failedTests(events []testEvent) []string { return topLevel(events, "fail") }

// topLevel returns the top-level tests whose result in events is one of
// actions.
func topLevel(events []testEvent, actions ...string) []string {
	var tests []string
	for _, e := range events {
		if e.Test != "" && !strings.Contains(e.Test, "/") && slices.Contains(actions, e.Action) {
			tests = append(tests, e.Test)
		}
	}
	return tests
}

// ofTests keeps the events of the top-level tests in tests and their
// subtests: what an interrupted run got through.
func ofTests(events []testEvent, tests []string) []testEvent {
	var kept []testEvent
	for _, e := range events {
		top, _, _ := strings.Cut(e.Test, "/")
		if e.Test != "" && slices.Contains(tests, top) {
			kept = append(kept, e)
		}
	}
	return kept
}

// failed are the events that fail tests of pkg, and pkg, for why.
func failed(pkg string, tests []string, why string) []testEvent {
	var events []testEvent
	for _, t := range tests {
		events = append(events,
			testEvent{Action: "output", Package: pkg, Test: t, Output: why + "\n"},
			testEvent{Action: "fail", Package: pkg, Test: t})
	}
	return append(events, testEvent{Action: "output", Package: pkg, Output: why + "\n"}, testEvent{Action: "fail", Package: pkg})
}

// withoutTests drops the events of tests (and their subtests) and the
// package's failure, which they caused: a test retried gets its result,
// and the package its failure if any, from the retry.
func withoutTests(events []testEvent, tests []string) []testEvent {
	var kept []testEvent
	for _, e := range events {
		top, _, _ := strings.Cut(e.Test, "/")
		if slices.Contains(tests, top) || e.Test == "" && e.Action == "fail" {
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

// testOutput is what tests (and their subtests) printed in events.
func testOutput(events []testEvent, tests []string) string {
	var b strings.Builder
	for _, e := range ofTests(events, tests) {
		if e.Action == "output" {
			b.WriteString(e.Output)
		}
	}
	return b.String()
}
