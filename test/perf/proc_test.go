package perf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gluevmm/glue/test/procstat"
)

// memUse is a VMM's memory as /proc shows it once the guest is done.
//
// It is read from /proc, not from getrusage's ru_maxrss after exit: Go's
// os/exec (like posix_spawn) starts the child with vfork, and at exec the
// kernel folds the high-water mark of the parent's address space into the
// child's ru_maxrss, so a VMM started by a big benchmark process would
// inherit its peak. VmHWM belongs to the VMM's own address space.
type memUse struct {
	peakKiB  int64 // VmHWM: the peak resident set
	anonKiB  int64 // RssAnon now: private memory, guest RAM included
	fileKiB  int64 // RssFile now: the binary and libraries, shared between VMs
	guestKiB int64 // resident part of the guest RAM mapping; -1 if not found
}

func readMem(pid int) (memUse, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memUse{}, err
	}
	m := memUse{guestKiB: -1}
	for _, f := range []struct {
		key string
		dst *int64
	}{{"VmHWM:", &m.peakKiB}, {"RssAnon:", &m.anonKiB}, {"RssFile:", &m.fileKiB}} {
		if *f.dst, err = kib(status, f.key); err != nil {
			return memUse{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
		}
	}
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return memUse{}, err
	}
	m.guestKiB = guestRSS(smaps, guestMiB<<10)
	return m, nil
}

// kib returns the value of a "Key:   1234 kB" line.
func kib(text []byte, key string) (int64, error) {
	for l := range bytes.Lines(text) {
		if rest, ok := bytes.CutPrefix(l, []byte(key)); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(rest)), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s", key)
}

// procCPU returns the user+system time all threads of a process have used
// so far, in 10 ms ticks.
func procCPU(pid int) (time.Duration, error) {
	s, err := procstat.Read(pid)
	return s.CPU(), err
}

// guestRSS finds the guest RAM in smaps as the one mapping of exactly the
// guest's size (true of both glue and QEMU, which map RAM in one piece) and
// returns its Rss, or -1 if there is not exactly one.
func guestRSS(smaps []byte, sizeKiB int64) int64 {
	found, rss := 0, int64(-1)
	var size int64
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "Size:":
			size, _ = strconv.ParseInt(f[1], 10, 64)
		case len(f) >= 2 && f[0] == "Rss:" && size == sizeKiB:
			found++
			rss, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	if found != 1 {
		return -1
	}
	return rss
}
