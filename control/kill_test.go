package control

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
	"github.com/gluevmm/glue/test/procstat"
)

// A VM whose process is stopped (SIGSTOP) takes connections into its
// socket's backlog but answers nothing: every client call ends with a
// *NoAnswerError after the Client's Timeout instead of waiting for ever,
// and Kill then ends the process and clears its name.
//
// Not parallel: it forks a helper (see TestKilledServerIsReaped).
func TestStoppedVMAnswersNothingAndIsKilled(t *testing.T) {
	dir := runDir(t)
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	helper := startHelper(t, dir, "frozen")
	if err := helper.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The signal is asynchronous: wait until the process is stopped.
	eventually(t, "the helper stopped", func() bool { return processState(helper.Process.Pid) == "T" })
	c := dial(t, dir, "frozen")
	c.Timeout = 200 * time.Millisecond
	ctx := t.Context() // no deadline: only the Client's Timeout can end a call
	calls := []struct {
		op   Op
		call func() error
	}{
		{OpInfo, func() error { _, err := c.Info(ctx); return err }},
		{OpPause, func() error { return c.Pause(ctx) }},
		{OpResume, func() error { return c.Resume(ctx) }},
		{OpStop, func() error { return c.Stop(ctx, 0) }},
		{OpConsole, func() error { _, err := c.Console(ctx); return err }},
	}
	for _, tc := range calls {
		t.Run(string(tc.op), func(t *testing.T) {
			err := tc.call()
			var na *NoAnswerError
			if !errors.As(err, &na) || na.Op != tc.op || na.Name != "frozen" || na.Timeout != c.Timeout {
				t.Fatalf("error %v, want a NoAnswerError for %s", err, tc.op)
			}
		})
	}

	pid, err := Kill(dir, "frozen", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if pid != helper.Process.Pid {
		t.Errorf("killed pid %d, want the helper's %d", pid, helper.Process.Pid)
	}
	if err := helper.Wait(); err == nil || helper.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("helper ended with %v, want SIGKILL", err)
	}
	for _, f := range []string{"frozen.sock", "frozen.lock"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left after Kill (%v)", f, err)
		}
	}
	if _, err := Kill(dir, "frozen", time.Second); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Kill of a gone VM: %v, want ErrNotRunning", err)
	}
}

// A lock file whose pid names a process that does not hold the lock (the
// VM's pid reused, or the file rewritten) makes Kill refuse, and that
// process lives on.
func TestKillRefusesAProcessNotHoldingTheLock(t *testing.T) {
	t.Parallel()
	_, dir := startServer(t, "held", newFake(), nil)
	bystander := exec.Command(hosttest.LookPath(t, "sleep"), "60")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bystander.Process.Kill(); bystander.Wait() })
	lock := filepath.Join(dir, "held.lock")
	if err := os.WriteFile(lock, []byte(strconv.Itoa(bystander.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Kill(dir, "held", time.Second)
	var nh *NotHolderError
	if !errors.As(err, &nh) || nh.PID != bystander.Process.Pid {
		t.Fatalf("Kill: %v, want a NotHolderError for pid %d", err, bystander.Process.Pid)
	}
	if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the bystander is gone: %v", err)
	}
}

// processState is the state letter of /proc/pid/stat ("R", "S", "T", ...),
// or "" for no such process.
func processState(pid int) string {
	s, err := procstat.Read(pid)
	if err != nil {
		return ""
	}
	return string(s.State)
}

// A pause queued behind others takes longer than the Client's Timeout,
// but the VM answers info meanwhile: the client keeps waiting and gets the
// reply rather than reporting a VM that does not answer.
func TestSlowPauseOfALiveVMIsWaitedFor(t *testing.T) {
	t.Parallel()
	fake := newFake()
	fake.pauseGate = make(chan struct{})
	_, dir := startServer(t, "slow", fake, nil)
	c := dial(t, dir, "slow")
	c.Timeout = 100 * time.Millisecond
	go func() {
		// Only once the client has probed (after its Timeout) may the
		// pause finish.
		for fake.callCount(OpInfo) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		close(fake.pauseGate)
	}()
	if err := c.Pause(testCtx(t)); err != nil {
		t.Fatalf("Pause: %v", err)
	}
}
