package main

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/gluevmm/glue/test/procstat"
)

// reaper reaps this init's orphans: the detached VMs' glue processes that
// the tests start outlive their parents and are handed to the init, which
// must collect them when they end or they stay zombies for the rest of the
// machine's run. It leaves the one child it started itself, the test
// binary, to exec.Cmd.Wait, which needs its exit status.
type reaper struct {
	mu   sync.Mutex // held by run's Start and by each pass
	self int        // the parent an orphan has: this init's PID
	own  int        // the running test binary, 0 between runs
}

// start starts cmd as the reaper's own child, which no pass reaps.
func (r *reaper) start(cmd *exec.Cmd) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := cmd.Start()
	if err == nil {
		r.own = cmd.Process.Pid
	}
	return err
}

// finished says that the child start started has been waited for.
func (r *reaper) finished() {
	r.mu.Lock()
	r.own = 0
	r.mu.Unlock()
}

// watch reaps the orphans each time a child of this init ends, forever.
func (r *reaper) watch() {
	ended := make(chan os.Signal, 1) // a burst of endings needs one pass
	signal.Notify(ended, syscall.SIGCHLD)
	for range ended {
		r.pass()
	}
}

// pass reaps every ended orphan and returns how many it reaped.
func (r *reaper) pass() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, pid := range orphanZombies(r.self, r.own) {
		var status syscall.WaitStatus
		if got, err := syscall.Wait4(pid, &status, syscall.WNOHANG, nil); err == nil && got == pid {
			n++
		}
	}
	return n
}

// orphanZombies lists the ended processes whose parent is self, except own.
func orphanZombies(self, own int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == own {
			continue
		}
		if s, err := procstat.Read(pid); err == nil && s.PPID == self && s.State == 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}
