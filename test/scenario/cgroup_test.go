package scenario

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

// The probe names the supervisor's one child as the jailed glue, sorts
// the cgroup's processes from its kernel threads (kthreadd, PID 2, is
// one), reads the limits and counters, and sees whether the cgroup is
// gone.
func TestCgroupProbe(t *testing.T) {
	t.Parallel()
	// A supervisor with one child, as jail.Run is.
	sup := exec.Command(hosttest.LookPath(t, "sh"), "-c", "sleep 60 & wait")
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sup.Process.Kill(); sup.Wait() })
	var kids []int
	for deadline := time.Now().Add(10 * time.Second); len(kids) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if kids, err = children(sup.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	if len(kids) != 1 {
		t.Fatalf("children of the supervisor %d: %v, want its sleep", sup.Process.Pid, kids)
	}
	child := strconv.Itoa(kids[0])
	dir := filepath.Join(t.TempDir(), "glue-vm")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, v := range map[string]string{"cgroup.procs": child + "\n2\n", "memory.max": "536870912\n", "cpu.max": "300000 100000\n",
		"pids.max": "1026\n", "memory.current": "114548736\n", "pids.current": "12\n"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := &cgroupProbe{dir: dir}
	p.read(sup.Process.Pid)
	want := "GLUE-OK outer cgroup dir=" + dir + " jailed=" + child + " procs=" + child + " kthreads=2:kthreadd " +
		"memory.max=536870912 cpu.max=300000,100000 pids.max=1026 memory.current=114548736 pids.current=12 removed="
	if got := p.line(); got != want+"no" {
		t.Errorf("line:\n%s\nwant\n%sno", got, want)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if got := p.line(); got != want+"yes" {
		t.Errorf("line after the removal:\n%s\nwant\n%syes", got, want)
	}

	none := &cgroupProbe{dir: dir}
	none.read(sup.Process.Pid)
	if got := none.line(); !strings.HasPrefix(got, "GLUE-FAIL outer cgroup ") || !strings.Contains(got, "cgroup.procs") {
		t.Errorf("line for a missing cgroup: %q", got)
	}
	if got := (&cgroupProbe{dir: dir}).line(); !strings.Contains(got, "never held the VM") {
		t.Errorf("line without a hold: %q", got)
	}
}

// DelegateCgroup enables the controllers at the root and in the cgroup it
// makes, as a service manager delegating one does.
func TestDelegateCgroup(t *testing.T) {
	t.Parallel()
	mount := t.TempDir()
	dir, err := DelegateCgroup(mount, "vms")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{mount, dir} {
		if b, err := os.ReadFile(filepath.Join(d, "cgroup.subtree_control")); err != nil || string(b) != "+cpu +memory +pids" {
			t.Errorf("%s/cgroup.subtree_control: %q, %v", d, b, err)
		}
	}
}
