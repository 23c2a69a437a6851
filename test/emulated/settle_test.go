package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// v is a line of -test.v=test2json output: the framing lines start with ^V.
func v(format string, args ...any) string { return "\x16" + fmt.Sprintf(format, args...) }

// results are the "pkg Test action" of out's result events, in order.
func results(t *testing.T, out *bytes.Buffer) []string {
	t.Helper()
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e testEvent
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if slices.Contains([]string{"pass", "fail", "skip"}, e.Action) {
			got = append(got, strings.TrimSpace(e.Package+" "+e.Test)+" "+e.Action)
		}
	}
	return got
}

// The markers of a run the machine got through, one it stopped during
// (TestB had finished, TestC had begun, TestD had not), and one it never
// began.
func stoppedMachine() []runOutput {
	runs := make([]runOutput, 3)
	for _, l := range []string{
		"EMU-READY",
		"EMU-BEGIN 0",
		"EMU-OUT 0 " + v("=== RUN   TestA"), "EMU-OUT 0 " + v("--- PASS: TestA (0.10s)"), "EMU-OUT 0 " + v("PASS"),
		"EMU-END 0 0",
		"EMU-BEGIN 1",
		"EMU-OUT 1 " + v("=== RUN   TestB"), "EMU-OUT 1 " + v("=== RUN   TestB/sub"),
		"EMU-OUT 1 " + v("--- PASS: TestB/sub (0.00s)"), "EMU-OUT 1 " + v("--- PASS: TestB (0.20s)"),
		"EMU-OUT 1 " + v("=== RUN   TestC"), "EMU-OUT 1     c_test.go:1: booting",
		"EMU-BEGIN 7", "EMU-OUT x junk", "EMU-END", // out of range or malformed: ignored
	} {
		parseMarker(l, runs)
	}
	return runs
}

func TestSettleRequeuesWhatAStoppedMachineLeft(t *testing.T) {
	queue := []pending{
		{pkgTests: pkgTests{"p/a", []string{"TestA"}}, attempt: 1},
		{pkgTests: pkgTests{"p/b", []string{"TestB", "TestC", "TestD"}}, attempt: 1},
		{pkgTests: pkgTests{"p/c", []string{"TestE"}}, attempt: 1},
	}
	var out bytes.Buffer
	next, err := settle(context.Background(), queue, stoppedMachine(), "the emulated machine wedged", json.NewEncoder(&out))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"p/a TestA pass", "p/a pass", "p/b TestB/sub pass", "p/b TestB pass"}
	if got := results(t, &out); !slices.Equal(got, want) {
		t.Errorf("results %q, want %q", got, want)
	}
	if len(next) != 2 || next[0].Package != "p/b" || !slices.Equal(next[0].Tests, []string{"TestC", "TestD"}) || next[0].attempt != 2 ||
		next[1].Package != "p/c" || next[1].attempt != 1 {
		t.Errorf("left to run: %+v", next)
	}
}

// On its last attempt a stopped run's unfinished tests fail, saying why,
// and so does their package.
func TestSettleFailsWhatTheLastAttemptLeft(t *testing.T) {
	queue := []pending{
		{pkgTests: pkgTests{"p/a", []string{"TestA"}}, attempt: wedgeAttempts},
		{pkgTests: pkgTests{"p/b", []string{"TestB", "TestC", "TestD"}}, attempt: wedgeAttempts},
	}
	var out bytes.Buffer
	next, err := settle(context.Background(), queue, stoppedMachine()[:2], "the emulated machine wedged", json.NewEncoder(&out))
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != 0 {
		t.Errorf("left to run: %+v", next)
	}
	want := []string{"p/a TestA pass", "p/a pass", "p/b TestB/sub pass", "p/b TestB pass", "p/b TestC fail", "p/b TestD fail", "p/b fail"}
	if got := results(t, &out); !slices.Equal(got, want) {
		t.Errorf("results %q, want %q", got, want)
	}
	if !strings.Contains(out.String(), "the emulated machine wedged on attempt 3 of 3") {
		t.Errorf("no reason in %s", out.String())
	}
}

// A binary that dies without its FAIL line (a panic, a timeout, a signal)
// fails its package all the same.
func TestSettleFailsABinaryThatDied(t *testing.T) {
	runs := make([]runOutput, 1)
	for _, l := range []string{"EMU-BEGIN 0", "EMU-OUT 0 " + v("=== RUN   TestA"), "EMU-OUT 0 panic: boom", "EMU-END 0 2"} {
		parseMarker(l, runs)
	}
	var out bytes.Buffer
	queue := []pending{{pkgTests: pkgTests{"p/a", []string{"TestA"}}, attempt: 1}}
	if _, err := settle(context.Background(), queue, runs, "", json.NewEncoder(&out)); err != nil {
		t.Fatal(err)
	}
	if got := results(t, &out); !slices.Contains(got, "p/a fail") {
		t.Errorf("results %q: the package did not fail", got)
	}
}

// A test that fails before the last attempt runs again on a fresh
// machine: its result and its package's failure wait for that run; on
// the last attempt a failure is final.
func TestSettleRetriesAFailedTestOnce(t *testing.T) {
	runs := make([]runOutput, 1)
	for _, l := range []string{
		"EMU-BEGIN 0",
		"EMU-OUT 0 " + v("=== RUN   TestA"), "EMU-OUT 0     a_test.go:1: the guest hung", "EMU-OUT 0 " + v("--- FAIL: TestA (60.00s)"),
		"EMU-OUT 0 " + v("=== RUN   TestB"), "EMU-OUT 0 " + v("--- PASS: TestB (0.10s)"),
		"EMU-OUT 0 " + v("FAIL"), "EMU-END 0 1",
	} {
		parseMarker(l, runs)
	}
	queue := []pending{{pkgTests: pkgTests{"p/a", []string{"TestA", "TestB"}}, attempt: 1}}
	var out bytes.Buffer
	next, err := settle(context.Background(), queue, runs, "", json.NewEncoder(&out))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := results(t, &out), []string{"p/a TestB pass"}; !slices.Equal(got, want) {
		t.Errorf("attempt 1: results %q, want %q", got, want)
	}
	if len(next) != 1 || !slices.Equal(next[0].Tests, []string{"TestA"}) || next[0].attempt != 2 {
		t.Fatalf("left to run: %+v, want TestA on attempt 2", next)
	}
	out.Reset()
	if next, err = settle(context.Background(), next, runs, "", json.NewEncoder(&out)); err != nil || len(next) != 0 {
		t.Fatalf("attempt 2: left %+v, %v", next, err)
	}
	if got := results(t, &out); !slices.Contains(got, "p/a TestA fail") || !slices.Contains(got, "p/a fail") {
		t.Errorf("attempt 2: results %q, want TestA and p/a failed", got)
	}
}

func TestSplitDealsEveryTestToOneMachine(t *testing.T) {
	queue := []pending{
		{pkgTests: pkgTests{"p/a", []string{"TestA1", "TestA2", "TestA3"}}, dir: "/a", binary: "0.test", attempt: 1},
		{pkgTests: pkgTests{"p/b", []string{"TestB1"}}, dir: "/b", binary: "1.test", attempt: 1},
	}
	shares := split(queue, 2)
	var got []string
	for i, share := range shares {
		for _, p := range share {
			got = append(got, fmt.Sprintf("%d %s %s %s %v", i, p.Package, p.dir, p.binary, p.Tests))
		}
	}
	want := []string{
		"0 p/a /a 0.test [TestA1 TestA3]",
		"1 p/a /a 0.test [TestA2]",
		"1 p/b /b 1.test [TestB1]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("split:\n got %q\nwant %q", got, want)
	}
	if shares := split(queue[1:], 3); len(shares) != 1 {
		t.Errorf("one test on three machines: %d shares, want 1 (no empty machine boots)", len(shares))
	}
}

// A wedge's report names the run the machine was in and how far it got,
// not the runs that ended or never began, and ends with the console.
func TestWedgeReport(t *testing.T) {
	queue := []pending{{pkgTests: pkgTests{Package: "p/a"}}, {pkgTests: pkgTests{Package: "p/b"}}, {pkgTests: pkgTests{Package: "p/c"}}}
	got := wedgeReport(queue, stoppedMachine(), []string{"old line", "watchdog: BUG: soft lockup - CPU#0 stuck for 22s!"})
	for _, want := range []string{"wedged during p/b, its last output:", "c_test.go:1: booting", "=== RUN   TestC", "soft lockup"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"p/a", "p/c", "TestA", "\x16"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("report names %q:\n%s", unwanted, got)
		}
	}
}
