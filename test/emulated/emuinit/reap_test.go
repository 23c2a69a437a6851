package main

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER (include/uapi/linux/prctl.h):
// it makes the test process the parent of its orphaned descendants, as
// PID 1 is for the machine.
const prSetChildSubreaper = 36

// An orphan that ends is reaped; the reaper's own child, ended too, is
// left to its exec.Cmd.Wait.
func TestReaperReapsOrphansButNotItsOwnChild(t *testing.T) {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", errno)
	}
	sh := hosttest.LookPath(t, "sh")
	r := &reaper{self: os.Getpid()}
	own := exec.Command(sh, "-c", "exit 0")
	if err := r.start(own); err != nil {
		t.Fatal(err)
	}
	// This sh ends at once; its background child becomes this process's
	// orphan and ends a little later.
	if err := exec.Command(sh, "-c", "sleep 0.1 &").Run(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(orphanZombies(r.self, 0)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("zombies of this process: %v, want the own child and the orphan", orphanZombies(r.self, 0))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.pass(); n != 1 {
		t.Errorf("pass reaped %d processes, want the one orphan", n)
	}
	if z := orphanZombies(r.self, 0); len(z) != 1 || z[0] != own.Process.Pid {
		t.Errorf("zombies left: %v, want only the own child %d", z, own.Process.Pid)
	}
	if err := own.Wait(); err != nil {
		t.Errorf("the own child's Wait: %v", err)
	}
	r.finished()
	if r.own != 0 {
		t.Errorf("own = %d after finished", r.own)
	}
}
