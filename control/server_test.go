package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpsRoundTrip(t *testing.T) {
	t.Parallel()
	fake := newFake()
	_, dir := startServer(t, "ops", fake, nil)
	c := dial(t, dir, "ops")
	ctx := testCtx(t)

	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Name: "ops", PID: os.Getpid(), State: StateRunning, CPUs: 2, MemMiB: 512, StartedAt: fake.started, Kernel: "/boot/vmlinuz"}
	if info != want {
		t.Fatalf("Info = %+v, want %+v", info, want)
	}

	stop := func(ctx context.Context) error { return c.Stop(ctx, 1500*time.Millisecond) }
	// Each step, twice where the op is idempotent, then the state seen
	// through the server.
	steps := []struct {
		name string
		op   func(context.Context) error
		want State
		code Code // expected error code, "" for success
	}{
		{"pause", c.Pause, StatePaused, ""},
		{"pause again", c.Pause, StatePaused, ""},
		{"resume", c.Resume, StateRunning, ""},
		{"resume again", c.Resume, StateRunning, ""},
		{"pause before stop", c.Pause, StatePaused, ""},
		{"stop", stop, StateStopping, ""},
		{"stop again", stop, StateStopping, ""},
		{"pause while stopping", c.Pause, StateStopping, CodeInvalidState},
		{"resume while stopping", c.Resume, StateStopping, CodeInvalidState},
	}
	for _, st := range steps {
		err := st.op(ctx)
		if st.code == "" && err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if st.code != "" {
			if !errors.Is(err, &Error{Code: st.code}) {
				t.Fatalf("%s: error %v, want code %s", st.name, err, st.code)
			}
			if !strings.Contains(err.Error(), "control: ops: ") {
				t.Errorf("%s: error %q does not name the VM", st.name, err)
			}
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatalf("%s: info: %v", st.name, err)
		}
		if info.State != st.want {
			t.Fatalf("after %s: state %s, want %s", st.name, info.State, st.want)
		}
	}
	if n := fake.callCount(OpPause); n != 4 {
		t.Errorf("Target.Pause called %d times, want 4", n)
	}
}

func TestLifecycleReplyCarriesState(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, "state", newFake(), nil)
	for _, tc := range []struct {
		op   Op
		want State
	}{{OpPause, StatePaused}, {OpResume, StateRunning}, {OpStop, StateStopping}} {
		r := rawExchange(t, s.SocketPath(), []byte(fmt.Sprintf(`{"version":1,"op":%q}`+"\n", tc.op)))
		if !r.OK || r.State != tc.want || r.Version != Version {
			t.Errorf("%s: reply %+v, want ok with state %s", tc.op, r, tc.want)
		}
	}
}

// stopLater is a VM that, like vmm's with grace 0, only asks its run loop
// to end: its state stays what it was until that loop gets to it.
type stopLater struct{ *fakeTarget }

func (stopLater) Stop(context.Context, time.Duration) error { return nil }

// The stop reply says stopping even while the VM still shows the state it
// had: the request was accepted, and the VM is on its way out.
func TestStopReplySaysStopping(t *testing.T) {
	t.Parallel()
	for _, from := range []State{StateRunning, StatePaused} {
		t.Run(string(from), func(t *testing.T) {
			t.Parallel()
			fake := newFake()
			fake.state = from
			s, _ := startServer(t, "stop-"+string(from), stopLater{fake}, nil)
			r := rawExchange(t, s.SocketPath(), []byte(`{"version":1,"op":"stop","timeout_ms":0}`+"\n"))
			if !r.OK || r.State != StateStopping {
				t.Errorf("reply %+v, want ok with state stopping", r)
			}
		})
	}
}

func TestBadRequestsKeepServing(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t, "bad", newFake(), nil)
	big := `{"version":1,"op":"info","pad":"` + strings.Repeat("x", MaxRequestSize) + `"}` + "\n"
	tests := []struct {
		name    string
		payload string
		code    Code // "" means success
	}{
		{"garbage", "hello there\n", CodeBadRequest},
		{"binary", "\x00\xff\xfe{\n", CodeBadRequest},
		{"truncated JSON", "{\"version\":1,\n", CodeBadRequest},
		{"empty object", "{}\n", CodeBadRequest},
		{"null", "null\n", CodeBadRequest},
		{"array", "[1,2]\n", CodeBadRequest},
		{"version as string", `{"version":"1","op":"info"}` + "\n", CodeBadRequest},
		{"fractional version", `{"version":1.5,"op":"info"}` + "\n", CodeBadRequest},
		{"no op", `{"version":1}` + "\n", CodeBadRequest},
		{"op not a string", `{"version":1,"op":7}` + "\n", CodeBadRequest},
		{"two objects", `{"version":1,"op":"info"}{"version":1,"op":"stop"}` + "\n", CodeBadRequest},
		{"empty line", "\n", CodeBadRequest},
		{"version 2", `{"version":2,"op":"info"}` + "\n", CodeUnsupportedVersion},
		{"version 0", `{"version":0,"op":"info"}` + "\n", CodeUnsupportedVersion},
		{"unknown op", `{"version":1,"op":"reboot"}` + "\n", CodeUnknownOp},
		{"too large", big, CodeTooLarge},
		{"too large without newline", strings.Repeat("{", 1<<20), CodeTooLarge},
		{"no trailing newline", `{"version":1,"op":"info"}`, ""},
		{"unknown field", `{"version":1,"op":"info","trace":true}` + "\n", CodeBadRequest},
		{"duplicate field", `{"version":1,"op":"stop","op":"info"}` + "\n", CodeBadRequest},
		{"key case mismatch", `{"version":1,"Op":"info"}` + "\n", CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			payload := []byte(tc.payload)
			var r Response
			if !strings.HasSuffix(tc.payload, "\n") && len(payload) < MaxRequestSize {
				r = halfClosedExchange(t, s.SocketPath(), payload)
			} else {
				r = rawExchange(t, s.SocketPath(), payload)
			}
			if r.Version != Version {
				t.Errorf("reply version %d", r.Version)
			}
			if tc.code == "" {
				if !r.OK || r.Info == nil {
					t.Fatalf("reply %+v, want ok with info", r)
				}
				return
			}
			if r.OK || r.Error == nil || r.Error.Code != tc.code || r.Error.Message == "" {
				t.Fatalf("reply %+v, want error %s", r, tc.code)
			}
		})
	}
	t.Cleanup(func() { // after the subtests: still serving
		if _, err := dial(t, dir, "bad").Info(context.Background()); err != nil {
			t.Errorf("after bad requests: %v", err)
		}
	})
}

// halfClosedExchange sends payload, then shuts the write side: a request
// without its newline.
func halfClosedExchange(t *testing.T, sock string, payload []byte) Response {
	t.Helper()
	nc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(payload); err != nil {
		t.Fatal(err)
	}
	nc.CloseWrite()
	r, err := readResponse(newReader(nc))
	if err != nil {
		t.Fatal(err)
	}
	return *r
}

func TestSilentClientIsCutOff(t *testing.T) {
	t.Parallel()
	const readTimeout = 2 * time.Second
	s, dir := startServer(t, "silent", newFake(), func(s *Server) { s.ReadTimeout = readTimeout })

	silent, err := net.Dial("unix", s.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	partial, err := net.Dial("unix", s.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer partial.Close()
	partial.Write([]byte(`{"version":1,"op":`))
	eventually(t, "both silent clients admitted", func() bool { return s.connCount() == 2 })

	// Served while the silent ones wait: well within their timeout.
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout/2)
	defer cancel()
	if _, err := dial(t, dir, "silent").Info(ctx); err != nil {
		t.Fatalf("info while two clients are silent: %v", err)
	}

	for _, nc := range []net.Conn{silent, partial} {
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		r, err := readResponse(newReader(nc))
		if err != nil {
			t.Fatalf("silent client: %v", err)
		}
		if r.Error == nil || r.Error.Code != CodeTimeout {
			t.Fatalf("silent client got %+v, want timeout", r)
		}
		if _, err := nc.Read(make([]byte, 1)); err == nil {
			t.Fatal("connection still open after the timeout reply")
		}
	}
}

func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t, "limit", newFake(), func(s *Server) { s.MaxConns = 2 })
	var held []net.Conn
	for range 2 {
		nc, err := net.Dial("unix", s.SocketPath())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, nc)
	}
	eventually(t, "two connections admitted", func() bool { return s.connCount() == 2 })
	c := dial(t, dir, "limit")
	_, err := c.Info(testCtx(t))
	wantCode(t, err, CodeBusy)

	for _, nc := range held {
		nc.Close()
	}
	eventually(t, "connections released", func() bool { return s.connCount() == 0 })
	if _, err := c.Info(testCtx(t)); err != nil {
		t.Fatalf("after the others left: %v", err)
	}
}

func TestConcurrentMixedRequests(t *testing.T) {
	t.Parallel()
	fake := newFake()
	_, dir := startServer(t, "mixed", fake, nil)
	c := dial(t, dir, "mixed")
	ctx := testCtx(t)

	const workers, perWorker = 20, 10 // 200 requests, under the connection limit
	var (
		mu     sync.Mutex
		issued = map[Op]int{}
		wg     sync.WaitGroup
		errs   = make(chan error, workers*perWorker)
	)
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range perWorker {
				op := []Op{OpInfo, OpPause, OpResume}[r.IntN(3)]
				var err error
				switch op {
				case OpInfo:
					var info Info
					info, err = c.Info(ctx)
					if err == nil && info.State != StateRunning && info.State != StatePaused {
						err = fmt.Errorf("state %q", info.State)
					}
				case OpPause:
					err = c.Pause(ctx)
				case OpResume:
					err = c.Resume(ctx)
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", op, err)
				}
				mu.Lock()
				issued[op]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if fake.overlap.Load() {
		t.Error("the server ran two lifecycle ops at once")
	}
	for _, op := range []Op{OpPause, OpResume} {
		if got := fake.callCount(op); got != issued[op] {
			t.Errorf("Target saw %d %s calls, clients issued %d", got, op, issued[op])
		}
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	state := fake.state
	fake.mu.Unlock()
	if info.State != state {
		t.Errorf("server reports %s, target is %s", info.State, state)
	}
}

func TestOpTimeout(t *testing.T) {
	t.Parallel()
	fake := newFake()
	fake.pauseGate = make(chan struct{}) // never opens: Pause hangs until its ctx ends
	_, dir := startServer(t, "slow", fake, func(s *Server) { s.OpTimeout = 100 * time.Millisecond })
	c := dial(t, dir, "slow")
	wantCode(t, c.Pause(testCtx(t)), CodeTimeout)
	if err := c.Resume(testCtx(t)); err != nil {
		t.Fatalf("resume after a timed-out pause: %v", err)
	}
}

func TestClientContextBoundsWait(t *testing.T) {
	t.Parallel()
	fake := newFake()
	fake.pauseGate = make(chan struct{})
	t.Cleanup(func() { close(fake.pauseGate) })
	_, dir := startServer(t, "wait", fake, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := dial(t, dir, "wait").Pause(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's deadline", err)
	}
}

func TestCloseReleasesName(t *testing.T) {
	t.Parallel()
	dir := runDir(t)
	s, err := Listen(dir, "again")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, newFake()) }()
	if _, err := dial(t, dir, "again").Info(ctx); err != nil {
		t.Fatal(err)
	}
	cancel() // ending Serve's context closes the server
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	for _, p := range []string{s.SocketPath(), s.lockPath} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after Serve returned: %v", p, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Serve(context.Background(), newFake()); err == nil {
		t.Error("a second Serve succeeded")
	}
	s2, err := Listen(dir, "again")
	if err != nil {
		t.Fatalf("name not free after Close: %v", err)
	}
	s2.Close()
	if err := s2.Serve(context.Background(), newFake()); err != nil {
		t.Errorf("Serve after Close: %v, want nil at once", err)
	}
}

func TestCloseLetsStopAnswer(t *testing.T) {
	t.Parallel()
	dir := runDir(t)
	s, err := Listen(dir, "stopper")
	if err != nil {
		t.Fatal(err)
	}
	// The VMM's way: Stop ends the VM, whose shutdown closes the server
	// while the stop request is still being answered.
	target := &closingTarget{fakeTarget: newFake(), stopped: make(chan struct{})}
	go s.Serve(context.Background(), target)
	go func() {
		<-target.stopped
		s.Close()
	}()
	if err := dial(t, dir, "stopper").Stop(testCtx(t), time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	s.Close()
}

type closingTarget struct {
	*fakeTarget
	stopped chan struct{}
}

func (c *closingTarget) Stop(ctx context.Context, grace time.Duration) error {
	err := c.fakeTarget.Stop(ctx, grace)
	close(c.stopped)
	time.Sleep(20 * time.Millisecond) // let Close start first
	return err
}

func TestInfoFillsNameAndPID(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, "fill", newFake(), nil)
	r := rawExchange(t, s.SocketPath(), []byte(`{"version":1,"op":"info"}`+"\n"))
	if r.Info == nil || r.Info.Name != "fill" || r.Info.PID != os.Getpid() || r.State != StateRunning {
		t.Fatalf("reply %+v", r)
	}
}

// The stop request carries the client's grace period to the target; a
// request without one gets DefaultStopTimeout.
func TestStopCarriesTimeout(t *testing.T) {
	t.Parallel()
	fake := newFake()
	_, dir := startServer(t, "grace", fake, nil)
	if err := dial(t, dir, "grace").Stop(testCtx(t), 2500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := dial(t, dir, "grace").Stop(testCtx(t), 0); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("unix", filepath.Join(dir, "grace.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(`{"version":1,"op":"stop"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	want := []time.Duration{2500 * time.Millisecond, 0, DefaultStopTimeout}
	if !slices.Equal(fake.graces, want) {
		t.Errorf("the target's Stop got grace periods %v, want %v", fake.graces, want)
	}
}
