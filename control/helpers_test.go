package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// helperEnv makes the test binary a VM that claims a name and serves until
// killed: "dir name". See TestKilledServerIsReaped.
const helperEnv = "GLUE_CONTROL_TEST_HELPER"

func TestMain(m *testing.M) {
	if arg := os.Getenv(helperEnv); arg != "" {
		runHelper(arg)
		return
	}
	os.Exit(m.Run())
}

func runHelper(arg string) {
	var dir, name string
	if _, err := fmt.Sscan(arg, &dir, &name); err != nil {
		fmt.Println("bad helper argument:", err)
		os.Exit(2)
	}
	s, err := Listen(dir, name)
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	go s.Serve(context.Background(), newFake())
	fmt.Println("ready")
	select {} // until SIGKILL
}

// fakeTarget is a VM as the control plane sees it. Lifecycle ops are
// idempotent; it records whether the server ever ran two at once.
type fakeTarget struct {
	started time.Time

	mu      sync.Mutex
	state   State
	calls   map[Op]int
	input   bytes.Buffer
	console *ConsoleBuffer  // nil: no console
	graces  []time.Duration // of each Stop call

	inFlight  atomic.Int32
	overlap   atomic.Bool   // two lifecycle ops ran at once
	pauseGate chan struct{} // if set, Pause waits for it (or ctx)
	infoGate  chan struct{} // if set, Info waits for it
}

func newFake() *fakeTarget {
	return &fakeTarget{
		started: time.Date(2026, 11, 27, 10, 7, 24, 0, time.UTC),
		state:   StateRunning,
		calls:   make(map[Op]int),
		console: NewConsoleBuffer(64),
	}
}

func (f *fakeTarget) Info() Info {
	if f.infoGate != nil {
		<-f.infoGate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[OpInfo]++
	return Info{State: f.state, CPUs: 2, MemMiB: 512, StartedAt: f.started, Kernel: "/boot/vmlinuz"}
}

func (f *fakeTarget) lifecycle(ctx context.Context, op Op, to State) error {
	if f.inFlight.Add(1) > 1 {
		f.overlap.Store(true)
	}
	defer f.inFlight.Add(-1)
	if op == OpPause && f.pauseGate != nil {
		select {
		case <-f.pauseGate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if f.state == StateStopping && to != StateStopping {
		return &Error{Code: CodeInvalidState, Message: "the VM is stopping"}
	}
	f.state = to
	return nil
}

func (f *fakeTarget) Pause(ctx context.Context) error { return f.lifecycle(ctx, OpPause, StatePaused) }
func (f *fakeTarget) Resume(ctx context.Context) error {
	return f.lifecycle(ctx, OpResume, StateRunning)
}
func (f *fakeTarget) Stop(ctx context.Context, grace time.Duration) error {
	f.mu.Lock()
	f.graces = append(f.graces, grace)
	f.mu.Unlock()
	return f.lifecycle(ctx, OpStop, StateStopping)
}

func (f *fakeTarget) Console() ConsolePort {
	if f.console == nil {
		return nil
	}
	return NewConsolePort(f.console, func(_ context.Context, p []byte) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.input.Write(p)
		return nil
	})
}

func (f *fakeTarget) inputString() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.input.String()
}

func (f *fakeTarget) callCount(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// runDir returns a runtime directory (not yet created) in a fresh temp dir.
func runDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "run")
}

// startServer serves target as name in a fresh runtime dir; configure, if
// not nil, adjusts the server before Serve. The server is closed at cleanup.
func startServer(t *testing.T, name string, target Target, configure func(*Server)) (*Server, string) {
	t.Helper()
	dir := runDir(t)
	s, err := Listen(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(s)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), target) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, dir
}

func dial(t *testing.T, dir, name string) *Client {
	t.Helper()
	c, err := Dial(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawExchange sends payload as is on a new connection and decodes the one
// reply line.
func rawExchange(t *testing.T, sock string, payload []byte) Response {
	t.Helper()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	// The server may answer (too_large) and close before we finish
	// writing; the reply is what matters.
	go nc.Write(payload)
	line, err := bufio.NewReader(nc).ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading reply to %.40q: %v", payload, err)
	}
	var r Response
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("reply %q: %v", line, err)
	}
	return r
}

func wantCode(t *testing.T, err error, code Code) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, maxResponseSize) }
