// Package integration drives the real glue binary: black-box tests of what
// a user sees, one file per feature. Tests that need /dev/kvm skip with a
// reason where it is missing and fail instead when GLUE_REQUIRE_KVM=1.
package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/kvm/kvmtest"
)

// glueBin is the binary under test, built once by TestMain.
var glueBin string

func TestMain(m *testing.M) {
	launchForPeakRSS()
	dir, err := os.MkdirTemp("", "glue-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	glueBin = filepath.Join(dir, "glue")
	// VMs started without --runtime-dir register here, not in the user's
	// real runtime directory.
	os.Setenv("GLUE_RUNTIME_DIR", filepath.Join(dir, "run"))
	build := exec.Command("go", "build", "-o", glueBin, "github.com/gluevmm/glue/cmd/glue")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building glue: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireKVM skips (or, with GLUE_REQUIRE_KVM=1, fails) a test that boots a VM.
func requireKVM(t *testing.T) {
	t.Helper()
	kvmtest.Open(t)
}

// result is a finished glue process.
type result struct {
	stdout, stderr string
	rawStderr      string // stderr with the name line kept
	code           int
}

// runGlue runs glue to completion with stdin as input (nil: empty) and a
// generous deadline; a test that hits it fails instead of hanging CI.
func runGlue(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	return runBinary(t, glueBin, stdin, args...)
}

// runBinary is runGlue for another build of glue (build_test.go).
func runBinary(t *testing.T, bin string, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: withoutNameLine(stderr.String()), rawStderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("glue %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("glue %s: still running after 2 minutes\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.stdout, res.stderr)
	}
	return res
}

// withoutNameLine drops the line in which `glue run` announces the name it
// generated, so tests can insist on nothing else on stderr.
func withoutNameLine(stderr string) string {
	rest, found := strings.CutPrefix(stderr, "glue: VM name ")
	if !found {
		return stderr
	}
	_, after, _ := strings.Cut(rest, "\n")
	return after
}

// markers returns the GLUE-OK/GLUE-FAIL lines of the built-in guest, keyed
// by test name, and fails the test on any GLUE-FAIL.
func markers(t *testing.T, out string) map[string]string {
	t.Helper()
	found := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if rest, ok := strings.CutPrefix(line, "GLUE-FAIL "); ok {
			t.Errorf("guest reported failure: %s", rest)
		}
		if rest, ok := strings.CutPrefix(line, "GLUE-OK "); ok {
			name, details, _ := strings.Cut(rest, " ")
			found[name] = details
		}
	}
	return found
}

// bootEntry returns the entry the built-in guest reports it came through
// (its GLUE-BOOT line: linux64 or pvh), "" if it printed none.
func bootEntry(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "GLUE-BOOT "); ok {
			return field(rest, "boot")
		}
	}
	return ""
}

// field returns the value of key=value in a marker's details.
func field(details, key string) string {
	for _, f := range strings.Fields(details) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// session is a glue process whose output is read while it runs.
type session struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	out    bytes.Buffer
	notify chan struct{}
	done   chan struct{}
	err    error
}

func (s *session) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.out.Write(p)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

// startGlue starts glue with stdout and stderr merged; the process is
// killed when the test ends if it is still running.
func startGlue(t *testing.T, args ...string) *session {
	t.Helper()
	return startProcess(t, glueBin, args...)
}

// startProcess is startGlue for a command that runs glue, such as
// `ip netns exec NS glue ...`.
func startProcess(t *testing.T, name string, args ...string) *session {
	t.Helper()
	s := &session{t: t, cmd: exec.Command(name, args...), notify: make(chan struct{}, 1), done: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = s, s
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("glue output:\n%s", s.output())
		}
	})
	return s
}

func (s *session) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// waitFor waits until the output contains want, failing after timeout.
func (s *session) waitFor(want string, timeout time.Duration) string {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		if out := s.output(); strings.Contains(out, want) {
			return out
		}
		select {
		case <-s.notify:
		case <-s.done:
			if out := s.output(); strings.Contains(out, want) {
				return out
			}
			s.t.Fatalf("glue exited (%v) before printing %q", s.err, want)
		case <-deadline:
			s.t.Fatalf("no %q within %v", want, timeout)
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (s *session) wait(timeout time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.t.Fatalf("glue still running after %v", timeout)
	}
	var exitErr *exec.ExitError
	if errors.As(s.err, &exitErr) {
		return exitErr.ExitCode()
	}
	if s.err != nil {
		s.t.Fatal(s.err)
	}
	return 0
}

// maxVCPUs is KVM's vCPU limit on this host.
func maxVCPUs(t *testing.T) int {
	sys, err := kvm.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	return sys.MaxVCPUs()
}

// settled returns read()'s value once it has stopped changing for 200 ms
// (at most 10 s). After a pause the guest is stopped, but output it wrote
// just before may still be on its way through glue's console buffer and
// the pipe; a test checks that nothing new comes after that.
func settled(read func() string) string {
	last := read()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		now := read()
		if now == last {
			return now
		}
		last = now
	}
	return last
}
