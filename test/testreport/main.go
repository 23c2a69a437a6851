// Command testreport reads `go test -json` on stdin and writes what CI's
// log needs: each package's result, the output of every failed test, every
// skipped test with its reason, and a last line
// "N passed, N failed, N skipped" (subtests count). A passing test's output
// stays out, except the notices it logs for CI's log (a line whose message
// starts with "NOTICE: ", with its continuation lines): the nested tier's
// wall time and retried stalls. It exits 1 when a test
// or a package failed, so a pipeline under pipefail fails with go test.
//
//	go test -json -count=1 ./... | go run ./test/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json), with the build
// events of go test -json (ImportPath).
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Elapsed    float64
	Output     string
}

// summary counts tests (subtests included) by result.
type summary struct {
	passed, failed, skipped int
	failedPackages          int
	skips                   []string // "pkg Test: reason", in the order seen
}

func main() {
	s, err := summarise(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if s.failed > 0 || s.failedPackages > 0 {
		os.Exit(1)
	}
}

// summarise reads the event stream from r and writes the report to w.
func summarise(r io.Reader, w io.Writer) (summary, error) {
	var s summary
	output := map[[2]string][]string{} // by package and test: lines so far
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line) // not an event: go itself talking
			continue
		}
		key := [2]string{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "output":
			output[key] = append(output[key], e.Output)
		case "pass", "fail", "skip":
			lines := output[key]
			delete(output, key)
			if e.Test == "" {
				s.pkgResult(w, e, lines)
			} else {
				s.testResult(w, e, lines)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("read go test -json: %w", err)
	}
	if len(s.skips) > 0 {
		fmt.Fprintf(w, "\nskipped tests:\n")
		for _, sk := range s.skips {
			fmt.Fprintf(w, "  %s\n", sk)
		}
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	return s, nil
}

func (s *summary) testResult(w io.Writer, e event, lines []string) {
	switch e.Action {
	case "pass":
		s.passed++
		printNotices(w, e, lines)
	case "fail":
		s.failed++
		fmt.Fprintf(w, "--- FAIL: %s %s (%.2fs)\n", e.Package, e.Test, e.Elapsed)
		for _, l := range lines {
			if !isFramework(l) {
				fmt.Fprint(w, l)
			}
		}
	case "skip":
		s.skipped++
		sk := fmt.Sprintf("%s %s: %s", e.Package, e.Test, reason(lines))
		s.skips = append(s.skips, sk)
		fmt.Fprintf(w, "--- SKIP: %s\n", sk)
	}
}

func (s *summary) pkgResult(w io.Writer, e event, lines []string) {
	switch e.Action {
	case "pass":
		fmt.Fprintf(w, "ok   %s (%.1fs)\n", e.Package, e.Elapsed)
	case "skip": // no test files
	case "fail":
		s.failedPackages++
		// What the package printed outside any test: a panic, a timeout,
		// TestMain's errors, and go test's "FAIL\tpkg\t12.3s" (or
		// "[build failed]") line; the bare "FAIL" before it says nothing.
		for _, l := range lines {
			if l != "FAIL\n" {
				fmt.Fprint(w, l)
			}
		}
	}
}

// notice is a test log line "    file_test.go:12: NOTICE: ..."; the
// lines after it that are indented deeper continue it.
var notice = regexp.MustCompile(`^(\s*)\S+\.go:\d+: NOTICE: `)

// printNotices writes a passing test's notices with their continuation
// lines.
func printNotices(w io.Writer, e event, lines []string) {
	indent := ""
	for _, l := range lines {
		if m := notice.FindStringSubmatch(l); m != nil {
			indent = m[1] + "    "
			fmt.Fprintf(w, "NOTICE %s %s: %s", e.Package, e.Test, strings.TrimLeft(l, " \t"))
			continue
		}
		if indent != "" && strings.HasPrefix(l, indent) && !isFramework(l) {
			fmt.Fprint(w, l)
			continue
		}
		indent = ""
	}
}

// reason is what a skipped test printed, on one line.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" && !isFramework(l) {
			parts = append(parts, t)
		}
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " / ")
}

// isFramework reports whether a line is the testing package's own
// "=== RUN" or "--- SKIP:" bookkeeping rather than the test's output.
func isFramework(l string) bool {
	t := strings.TrimSpace(l)
	return slices.ContainsFunc([]string{"=== ", "--- PASS", "--- FAIL", "--- SKIP"}, func(p string) bool { return strings.HasPrefix(t, p) })
}
