package control

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestConsoleBufferKeepsLastN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		size   int
		writes []string
	}{
		{"empty", 8, nil},
		{"under", 8, []string{"abc"}},
		{"exactly full", 8, []string{"abcd", "efgh"}},
		{"wraps", 8, []string{"abcde", "fghij"}},
		{"one big write", 8, []string{"0123456789abcdef!"}},
		{"big write after wrap", 8, []string{"abc", "defgh", "0123456789"}},
		{"size one", 1, []string{"ab", "c", "", "de"}},
		{"empty writes", 4, []string{"", "ab", "", "cdef", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := NewConsoleBuffer(tc.size)
			var all []byte
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
				all = append(all, w...)
				checkHistory(t, b, all, tc.size)
			}
			checkHistory(t, b, all, tc.size)
		})
	}
}

func TestConsoleBufferRandomWrites(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	for range 50 {
		size := 1 + r.IntN(100)
		b := NewConsoleBuffer(size)
		var all []byte
		for range 40 {
			p := make([]byte, r.IntN(3*size))
			for i := range p {
				p[i] = byte(r.Uint32())
			}
			b.Write(p)
			all = append(all, p...)
			checkHistory(t, b, all, size)
		}
	}
}

func checkHistory(t *testing.T, b *ConsoleBuffer, all []byte, size int) {
	t.Helper()
	want := all[max(0, len(all)-size):]
	if got := b.History(); !bytes.Equal(got, want) {
		t.Fatalf("history %q, want the last %d bytes %q", got, size, want)
	}
}

func TestConsoleBufferStalledReaderNeverBlocksWriter(t *testing.T) {
	t.Parallel()
	b := NewConsoleBuffer(1024)
	r, err := b.Attach() // and never read
	if err != nil {
		t.Fatal(err)
	}
	const total = 16 << 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := bytes.Repeat([]byte("x"), 4096)
		for range total / len(chunk) {
			b.Write(chunk)
		}
		b.Write([]byte("END"))
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Write blocked on a reader that does not read")
	}
	if d := b.Dropped(); d < total-DefaultConsolePending {
		t.Errorf("dropped %d bytes; a stalled reader should have cost about %d", d, total-DefaultConsolePending)
	}
	if h := b.History(); !bytes.HasSuffix(h, []byte("END")) || len(h) != 1024 {
		t.Errorf("history is %d bytes ending %q", len(h), h[max(0, len(h)-3):])
	}
	// The reader gets at most its backlog, then waits for more.
	got := 0
	buf := make([]byte, 64<<10)
	for got < DefaultConsolePending {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if got != DefaultConsolePending {
		t.Errorf("reader got %d bytes, want its backlog of %d", got, DefaultConsolePending)
	}
	r.Close()
}

func TestConsoleBufferAttach(t *testing.T) {
	t.Parallel()
	b := NewConsoleBuffer(16)
	b.Write([]byte("boot messages: 0123456789"))
	r, err := b.Attach()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Attach(); !errors.Is(err, ErrConsoleBusy) {
		t.Fatalf("second Attach: %v, want ErrConsoleBusy", err)
	}
	b.Write([]byte("|live"))
	want := "ages: 0123456789|live" // 16 bytes of history, then live output
	if got := readN(t, r, len(want)); got != want {
		t.Fatalf("read %q, want %q", got, want)
	}

	// A blocked Read returns when the client detaches.
	readErr := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 8))
		readErr <- err
	}()
	time.Sleep(10 * time.Millisecond)
	r.Close()
	if err := <-readErr; err == nil {
		t.Fatal("Read after Close returned no error")
	}
	b.Write([]byte("!")) // no reader: goes to history only

	r2, err := b.Attach()
	if err != nil {
		t.Fatalf("Attach after detach: %v", err)
	}
	b.Close()
	rest, err := io.ReadAll(r2)
	if err != nil {
		t.Fatal(err)
	}
	if want := "0123456789|live!"; string(rest) != want {
		t.Fatalf("after Close the reader got %q, want the history %q then EOF", rest, want)
	}
	r3, err := b.Attach() // a closed console still shows its history
	if err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(r3); string(rest) != "0123456789|live!" {
		t.Fatalf("attach to a closed console: %q", rest)
	}
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return string(buf)
}

func TestConsoleThroughServer(t *testing.T) {
	t.Parallel()
	fake := newFake()
	fake.console.Write([]byte("history\n"))
	s, dir := startServer(t, "con", fake, nil)
	c := dial(t, dir, "con")

	stream, err := c.Console(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := readN(t, stream, len("history\n")); got != "history\n" {
		t.Fatalf("history: %q", got)
	}
	fake.console.Write([]byte("live output\n"))
	if got := readN(t, stream, len("live output\n")); got != "live output\n" {
		t.Fatalf("live: %q", got)
	}
	if _, err := stream.Write([]byte("ls\n")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "input to reach the guest", func() bool { return fake.inputString() == "ls\n" })

	if _, err := c.Console(testCtx(t)); !errors.Is(err, &Error{Code: CodeBusy}) {
		t.Fatalf("second console: %v, want busy", err)
	}
	// Other ops go on during a console session.
	if err := c.Pause(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	stream.Close() // detach: the console is free once Close returns
	again, err := c.Console(testCtx(t))
	if err != nil {
		t.Fatalf("attach right after detach: %v", err)
	}
	// History again: everything so far fits in the 64-byte ring.
	if got := readN(t, again, len("history\nlive output\n")); got != "history\nlive output\n" {
		t.Fatalf("history after re-attach: %q", got)
	}

	// Closing the server ends the session.
	s.Close()
	again.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(again); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("reading after server close: %v", err)
	}
}

func TestConsoleInputBeforeDetach(t *testing.T) {
	t.Parallel()
	fake := newFake()
	_, dir := startServer(t, "pipe", fake, nil)
	// `echo cmd | glue console`: input, then close at once.
	stream, err := dial(t, dir, "pipe").Console(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	stream.Write([]byte("reboot\n"))
	stream.Close()
	eventually(t, "piped input to reach the guest", func() bool { return fake.inputString() == "reboot\n" })
}

func TestConsoleEndsWithTheVM(t *testing.T) {
	t.Parallel()
	fake := newFake()
	_, dir := startServer(t, "ending", fake, nil)
	stream, err := dial(t, dir, "ending").Console(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	fake.console.Write([]byte("bye"))
	fake.console.Close()
	got, err := io.ReadAll(stream)
	if err != nil || string(got) != "bye" {
		t.Fatalf("read %q, %v; want \"bye\" then EOF", got, err)
	}
}

func TestNoConsole(t *testing.T) {
	t.Parallel()
	fake := newFake()
	fake.console = nil
	_, dir := startServer(t, "headless", fake, nil)
	_, err := dial(t, dir, "headless").Console(testCtx(t))
	wantCode(t, err, CodeUnavailable)
}

// stuckInputTarget is a VM whose guest never takes console input.
type stuckInputTarget struct{ *fakeTarget }

func (t stuckInputTarget) Console() ConsolePort {
	return NewConsolePort(t.console, func(ctx context.Context, _ []byte) error {
		<-ctx.Done()
		return ctx.Err()
	})
}

// Once a console stream's Close returns, the console is free: attaching
// again at once succeeds, even while what the client typed last still
// waits for the guest.
func TestConsoleReattachRightAfterDetach(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target Target
		typed  string
		rounds int
	}{
		{"guest takes input", newFake(), "", 200},
		{"guest takes no input", stuckInputTarget{newFake()}, "typed last\n", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, dir := startServer(t, "reattach", tc.target, nil)
			c := dial(t, dir, "reattach")
			for i := range tc.rounds {
				stream, err := c.Console(testCtx(t))
				if err != nil {
					t.Fatalf("attach %d: %v", i, err)
				}
				if tc.typed != "" {
					if _, err := stream.Write([]byte(tc.typed)); err != nil {
						t.Fatal(err)
					}
				}
				if err := stream.Close(); err != nil {
					t.Fatalf("detach %d: %v", i, err)
				}
			}
		})
	}
}

// A console stream must not offer its socket as a syscall.Conn: io.Copy
// to an *os.File (glue console's stdout) would then splice from the socket
// directly and skip the console bytes that arrived with the reply.
func TestConsoleStreamHidesItsSocket(t *testing.T) {
	t.Parallel()
	_, dir := startServer(t, "hidden", newFake(), nil)
	stream, err := dial(t, dir, "hidden").Console(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if _, ok := any(stream).(syscall.Conn); ok {
		t.Fatal("the console stream is a syscall.Conn")
	}
}

// A client that ends its input (CloseWrite: a script's stdin at EOF)
// still gets what the session had queued for it, the history first, then
// the end of the stream; the console is free again meanwhile.
func TestConsoleCloseWriteDeliversTheHistory(t *testing.T) {
	t.Parallel()
	fake := newFake()
	fake.console.Write([]byte("boot messages\n"))
	c, stream := consoleWithoutInput(t, "eof", fake)
	stream.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(stream)
	if err != nil || string(got) != "boot messages\n" {
		t.Fatalf("after CloseWrite: %q, %v; want the history, then EOF", got, err)
	}
	again, err := c.Console(testCtx(t))
	if err != nil {
		t.Fatalf("attach after the history was delivered: %v", err)
	}
	again.Close()
}

// A history larger than the socket can hold at once still arrives whole
// when the client ends its input and only then reads: the session waits
// for its output to drain rather than closing the connection under it
// (a script's `glue console` with stdin at EOF printed nothing of the
// guest's output now and then).
func TestConsoleCloseWriteDeliversALargeHistory(t *testing.T) {
	t.Parallel()
	fake := newFake()
	const size = 4 << 20
	fake.console = NewConsoleBuffer(size)
	history := bytes.Repeat([]byte("0123456789abcde\n"), size/16)
	fake.console.Write(history)
	_, stream := consoleWithoutInput(t, "eof-large", fake)
	time.Sleep(200 * time.Millisecond) // the server sees the end of input first
	stream.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(stream)
	if err != nil || !bytes.Equal(got, history) {
		t.Fatalf("after CloseWrite: %d bytes, %v; want the %d bytes of history, then EOF", len(got), err, len(history))
	}
}

// The end of the stream after a CloseWrite comes as soon as what was
// queued is sent (the server half-closes its side), even while the guest
// has not taken what the client typed last, which the session still waits
// for up to its read timeout: a script's `glue console` with stdin at EOF
// exits at once.
func TestConsoleCloseWriteEndsPromptly(t *testing.T) {
	t.Parallel()
	fake := newFake()
	fake.console.Write([]byte("login: "))
	_, dir := startServer(t, "prompt", stuckInput{fake}, func(s *Server) { s.ReadTimeout = time.Minute })
	stream, err := dial(t, dir, "prompt").Console(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if _, err := stream.Write([]byte("root\n")); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	stream.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(stream)
	if err != nil || string(got) != "login: " {
		t.Fatalf("after CloseWrite: %q, %v; want the history, then EOF well before the server's read timeout", got, err)
	}
}

// stuckInput is a VM whose guest never takes console input.
type stuckInput struct{ *fakeTarget }

func (s stuckInput) Console() ConsolePort {
	return NewConsolePort(s.console, func(ctx context.Context, _ []byte) error {
		<-ctx.Done()
		return ctx.Err()
	})
}

// consoleWithoutInput serves fake as name, attaches a console client and
// ends its input at once, as a script whose stdin is at EOF does.
func consoleWithoutInput(t *testing.T, name string, fake *fakeTarget) (*Client, *ConsoleStream) {
	t.Helper()
	_, dir := startServer(t, name, fake, nil)
	c := dial(t, dir, name)
	stream, err := c.Console(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stream.Close() })
	if err := stream.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	return c, stream
}

// A detached reader yields what it held, then io.EOF.
func TestConsoleBufferCloseKeepsWhatWasQueued(t *testing.T) {
	t.Parallel()
	b := NewConsoleBuffer(64)
	b.Write([]byte("queued"))
	r, err := b.Attach()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	b.Write([]byte(" later")) // not for r any more
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "queued" {
		t.Fatalf("after Close: %q, %v; want %q, then EOF", got, err, "queued")
	}
}

// lockedLog is a log handler's output, read while sessions write to it.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// EndConsoles returns only once every console session has ended and said
// so in the log, ending within its grace a session whose client does not
// read (here one with 4 MiB of history to send): a VM's end is then the
// last line of its log. A console attached after it is refused.
func TestEndConsolesWaitsForTheSessions(t *testing.T) {
	t.Parallel()
	fake := newFake()
	const size = 4 << 20
	fake.console = NewConsoleBuffer(size)
	fake.console.Write(bytes.Repeat([]byte("x"), size))
	var log lockedLog
	srv, dir := startServer(t, "draining", fake, func(s *Server) {
		s.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	stream, err := dial(t, dir, "draining").Console(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	fake.console.Close() // the VM's console ends; the client reads nothing
	srv.EndConsoles(100 * time.Millisecond)
	if got := log.String(); !strings.Contains(got, "console detached") {
		t.Fatalf("EndConsoles returned before the session ended; log:\n%s", got)
	}
	if _, err := dial(t, dir, "draining").Console(testCtx(t)); err == nil {
		t.Fatal("a console attached after EndConsoles")
	}
}
