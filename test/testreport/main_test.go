package main

import (
	"strings"
	"testing"
)

// A stream as go test -json writes it: a passing test, a skipped one with
// its reason, a failing subtest under a failing parent, a package that
// panicked outside any test, and a build failure.
const stream = `{"Action":"start","Package":"ex/a"}
{"Action":"run","Package":"ex/a","Test":"TestOK"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"    a_test.go:9: chatter\n"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"    a_test.go:10: NOTICE: retried once; its last lines:\n"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"        stalled here\n"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"    a_test.go:11: more chatter\n"}
{"Action":"pass","Package":"ex/a","Test":"TestOK","Elapsed":0.01}
{"Action":"run","Package":"ex/a","Test":"TestPVM"}
{"Action":"output","Package":"ex/a","Test":"TestPVM","Output":"=== RUN   TestPVM\n"}
{"Action":"output","Package":"ex/a","Test":"TestPVM","Output":"    a_test.go:20: this host's /dev/kvm is PVM [skip reason \"hardware-kvm\"]\n"}
{"Action":"output","Package":"ex/a","Test":"TestPVM","Output":"--- SKIP: TestPVM (0.00s)\n"}
{"Action":"skip","Package":"ex/a","Test":"TestPVM","Elapsed":0}
{"Action":"run","Package":"ex/a","Test":"TestDisk"}
{"Action":"run","Package":"ex/a","Test":"TestDisk/flush"}
{"Action":"output","Package":"ex/a","Test":"TestDisk/flush","Output":"    a_test.go:31: marker lost after stop\n"}
{"Action":"output","Package":"ex/a","Test":"TestDisk/flush","Output":"    --- FAIL: TestDisk/flush (0.20s)\n"}
{"Action":"fail","Package":"ex/a","Test":"TestDisk/flush","Elapsed":0.2}
{"Action":"output","Package":"ex/a","Test":"TestDisk","Output":"--- FAIL: TestDisk (0.20s)\n"}
{"Action":"fail","Package":"ex/a","Test":"TestDisk","Elapsed":0.2}
{"Action":"output","Package":"ex/a","Output":"FAIL\n"}
{"Action":"output","Package":"ex/a","Output":"FAIL\tex/a\t0.300s\n"}
{"Action":"fail","Package":"ex/a","Elapsed":0.3}
{"Action":"output","Package":"ex/b","Output":"panic: test timed out after 30m0s\n"}
{"Action":"output","Package":"ex/b","Output":"FAIL\tex/b\t1800.000s\n"}
{"Action":"fail","Package":"ex/b","Elapsed":1800}
{"ImportPath":"ex/c","Action":"build-output","Output":"c.go:3:2: undefined: x\n"}
{"ImportPath":"ex/c","Action":"build-fail"}
{"Action":"output","Package":"ex/c","Output":"FAIL\tex/c [build failed]\n"}
{"Action":"fail","Package":"ex/c","Elapsed":0}
{"Action":"pass","Package":"ex/d","Elapsed":0.5}
{"Action":"skip","Package":"ex/e","Elapsed":0}
`

func TestSummarise(t *testing.T) {
	var out strings.Builder
	s, err := summarise(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if s.passed != 1 || s.failed != 2 || s.skipped != 1 || s.failedPackages != 3 {
		t.Errorf("summary %+v, want 1 passed, 2 failed, 1 skipped, 3 failed packages", s)
	}
	for _, want := range []string{
		"--- SKIP: ex/a TestPVM: a_test.go:20: this host's /dev/kvm is PVM [skip reason \"hardware-kvm\"]\n",
		"skipped tests:\n  ex/a TestPVM: a_test.go:20:",
		"--- FAIL: ex/a TestDisk/flush (0.20s)\n    a_test.go:31: marker lost after stop\n",
		"panic: test timed out after 30m0s\nFAIL\tex/b\t1800.000s\n",
		"FAIL\tex/a\t0.300s\n",
		"FAIL\tex/c [build failed]\n",
		"c.go:3:2: undefined: x\n",
		"ok   ex/d (0.5s)\n",
		"NOTICE ex/a TestOK: a_test.go:10: NOTICE: retried once; its last lines:\n        stalled here\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(got, "\n1 passed, 2 failed, 1 skipped\n") {
		t.Errorf("last line is not the summary:\n%s", got)
	}
	if strings.Contains(got, "\nFAIL\n") {
		t.Errorf("the bare FAIL line is in the report:\n%s", got)
	}
	if strings.Contains(got, "chatter") {
		t.Errorf("a passing test's output is in the report:\n%s", got)
	}
}

// A line that is not an event (go itself, or a test binary's stray
// output) is passed through, not lost.
func TestSummarisePassesOtherLines(t *testing.T) {
	var out strings.Builder
	if _, err := summarise(strings.NewReader("go: downloading example.com/x v1.0.0\n"), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "go: downloading example.com/x v1.0.0\n") || !strings.HasSuffix(got, "0 passed, 0 failed, 0 skipped\n") {
		t.Errorf("report:\n%s", got)
	}
}
