package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestDuplicateNameRefused(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t, "dup", newFake(), nil)
	_, err := Listen(dir, "dup")
	var inUse *NameInUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || inUse.Name != "dup" {
		t.Fatalf("second Listen: %v, want *NameInUseError with our pid", err)
	}
	if want := fmt.Sprintf(`control: a VM named "dup" is already running (pid %d)`, os.Getpid()); err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	// The failed claim must not have touched the live server's files.
	if _, err := dial(t, dir, "dup").Info(testCtx(t)); err != nil {
		t.Fatalf("first server after the refused claim: %v", err)
	}
	if _, err := os.Stat(s.SocketPath()); err != nil {
		t.Fatal(err)
	}
}

// startHelper runs the test binary as a VM process serving name in dir
// (see TestMain) and returns it once it is serving.
func startHelper(t *testing.T, dir, name string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir+" "+name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	return cmd
}

// Not parallel: it forks a helper, and until the helper execs it holds a
// copy of every fd, including other tests' lock files.
func TestKilledServerIsReaped(t *testing.T) {
	dir := runDir(t)
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	cmd := startHelper(t, dir, "victim")
	ctx := testCtx(t)

	entries, err := List(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != "victim" || entries[0].PID != cmd.Process.Pid || entries[0].State != StateRunning {
		t.Fatalf("List = %+v, want the helper (pid %d) running", entries, cmd.Process.Pid)
	}
	_, err = Listen(dir, "victim")
	var inUse *NameInUseError
	if !errors.As(err, &inUse) || inUse.PID != cmd.Process.Pid {
		t.Fatalf("Listen while the helper lives: %v, want in use by pid %d", err, cmd.Process.Pid)
	}

	// SIGKILL: no chance to clean up, the files stay behind.
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for _, ext := range []string{".sock", ".lock"} {
		if _, err := os.Lstat(filepath.Join(dir, "victim"+ext)); err != nil {
			t.Fatalf("a killed process should leave its %s behind: %v", ext, err)
		}
	}

	entries, err = List(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("List after the kill = %+v, want nothing", entries)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("List left %v behind", left)
	}
	if _, err := Dial(dir, "victim"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial after the kill: %v, want ErrNotRunning", err)
	}
	// And the name is free again.
	s, err := Listen(dir, "victim")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// Not parallel: it forks a helper, and until the helper execs it holds a
// copy of every fd, including other tests' lock files.
func TestListenRemovesStaleSocket(t *testing.T) {
	dir := runDir(t)
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	cmd := startHelper(t, dir, "phoenix")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// No List in between: Listen itself finds the lock free and the
	// socket stale.
	s, err := Listen(dir, "phoenix")
	if err != nil {
		t.Fatalf("Listen over a dead VM's files: %v", err)
	}
	defer s.Close()
	go s.Serve(context.Background(), newFake())
	if _, err := dial(t, dir, "phoenix").Info(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestDialNotRunning(t *testing.T) {
	t.Parallel()
	dir := runDir(t)
	if _, err := Dial(dir, "ghost"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial with no runtime dir: %v", err)
	}
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(dir, "ghost"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial of an unknown name: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("Dial left %v behind", left)
	}
}

// TestClaimAndReapRace has VMs claim and release one name while clients
// reap it, and checks that two VMs never hold the name at once and that a
// live VM is always reachable.
func TestClaimAndReapRace(t *testing.T) {
	t.Parallel()
	dir := runDir(t)
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	sock, lock, _ := paths(dir, "contested")
	var (
		holders atomic.Int32
		stop    atomic.Bool
		wg      sync.WaitGroup
		claims  atomic.Int32
	)
	errs := make(chan error, 100)
	for range 3 { // would-be VMs
		wg.Go(func() {
			for !stop.Load() {
				f, err := claim(sock, lock, "contested", os.Getpid())
				var inUse *NameInUseError
				if errors.As(err, &inUse) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if n := holders.Add(1); n != 1 {
					errs <- fmt.Errorf("%d holders of one name", n)
				}
				claims.Add(1)
				// While we hold it, a reaper must see it alive.
				if alive, _, err := reap(sock, lock); err != nil || !alive {
					errs <- fmt.Errorf("reap of a held name: alive=%v err=%v", alive, err)
				}
				holders.Add(-1)
				if err := release(f, sock, lock); err != nil {
					errs <- err
				}
			}
		})
	}
	for range 3 { // clients listing
		wg.Go(func() {
			for !stop.Load() {
				if _, _, err := reap(sock, lock); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if claims.Load() == 0 {
		t.Error("no claim ever succeeded")
	}
	t.Logf("%d claims", claims.Load())
}

func TestListMarksUnresponsive(t *testing.T) {
	t.Parallel()
	dir := runDir(t)
	// A VM whose Info never returns.
	hung := newFake()
	hung.infoGate = make(chan struct{})
	sHung, err := Listen(dir, "hung")
	if err != nil {
		t.Fatal(err)
	}
	go sHung.Serve(context.Background(), hung)
	t.Cleanup(func() { close(hung.infoGate); sHung.Close() })
	// A VM that claimed its name but never serves.
	mute, err := Listen(dir, "mute")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mute.Close() })
	// And a healthy one.
	ok, err := Listen(dir, "ok")
	if err != nil {
		t.Fatal(err)
	}
	go ok.Serve(context.Background(), newFake())
	t.Cleanup(func() { ok.Close() })
	// And a corpse.
	os.WriteFile(filepath.Join(dir, "dead.sock"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "dead.lock"), []byte("1\n"), 0o600)
	// And files List must ignore.
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "bad name!.sock"), nil, 0o600)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, err := List(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s:%s:%d:%v", e.Name, e.State, e.PID, e.Err != nil))
	}
	pid := os.Getpid()
	want := []string{
		fmt.Sprintf("hung:unresponsive:%d:true", pid),
		fmt.Sprintf("mute:unresponsive:%d:true", pid),
		fmt.Sprintf("ok:running:%d:false", pid),
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for _, f := range []string{"dead.sock", "dead.lock"} {
		if _, err := os.Lstat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not cleaned: %v", f, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("List removed a file that is not its own: %v", err)
	}
}

func TestListMissingDir(t *testing.T) {
	t.Parallel()
	entries, err := List(context.Background(), filepath.Join(t.TempDir(), "none"))
	if err != nil || len(entries) != 0 {
		t.Fatalf("List of a missing dir = %v, %v", entries, err)
	}
}

func TestListenGeneratesName(t *testing.T) {
	t.Parallel()
	dir := runDir(t)
	s, err := Listen(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := ValidName(s.Name()); err != nil || !strings.HasPrefix(s.Name(), "vm-") {
		t.Fatalf("generated name %q: %v", s.Name(), err)
	}
	if filepath.Base(s.SocketPath()) != s.Name()+".sock" {
		t.Fatalf("socket %s for name %s", s.SocketPath(), s.Name())
	}
}
