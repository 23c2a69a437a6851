package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gluevmm/glue/test/nested/plan"
	"github.com/gluevmm/glue/test/scenario"
)

// compare boots c.Scenario c.Boots times under each VMM, in the order of
// plan.Slot from boot c.From on, and reports each boot as a
// NESTED-COMPARE line.
func compare(out *markers, env scenario.Env, c *plan.Compare) {
	s := c.Scenario
	disk := ""
	if c.DiskMiB > 0 {
		disk = filepath.Join(env.WorkDir, "compare-disk.raw")
	}
	glue := append([]string{env.Glue}, s.RunArgs(env, env.Initrd, s.Boots()[0], disk)...)
	qemu := append([]string{plan.QEMU}, s.QEMUArgs(env, env.Initrd, disk)...)
	qemuEnv := append(os.Environ(), "LD_LIBRARY_PATH="+strings.Join(c.LibDirs, ":"))
	for k := c.From; k < 2*c.Boots; k++ {
		round, vmm := plan.Slot(k)
		var b plan.Boot
		// Each boot gets the same disk: fresh zeros, so that neither VMM
		// writes over blocks that an earlier boot allocated. Without it
		// the boot counts as one that ended early, which fails the test.
		argv, environ := glue, []string(nil)
		if vmm == "qemu" {
			argv, environ = qemu, qemuEnv
		}
		if err := freshDisk(disk, c.DiskMiB); err != nil {
			b.Exited, b.Last = true, []string{err.Error()}
		} else {
			b = measureWithNet(s.Net, argv, environ, env.Deadline)
		}
		b.VMM, b.Round = vmm, round
		j, _ := json.Marshal(b)
		out.line("NESTED-COMPARE %s", j)
	}
}

// freshDisk makes path a sparse raw image of mib MiB of zeros, replacing
// what an earlier boot left there; "" is no disk.
func freshDisk(path string, mib int) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("comparison disk: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("comparison disk: %w", err)
	}
	err = f.Truncate(int64(mib) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("comparison disk: %w", err)
	}
	return nil
}

// measureWithNet is measure, with the host's side of init's tcp check
// served on the tap for a Net scenario: a host side that failed in a
// boot that reached GLUE-DONE fails the boot's checks.
func measureWithNet(net bool, argv, environ []string, deadline time.Duration) plan.Boot {
	if !net {
		return measure(argv, environ, deadline)
	}
	srv, err := scenario.ServeTCP()
	if err != nil {
		return plan.Boot{Exited: true, Last: []string{err.Error()}}
	}
	b := measure(argv, environ, deadline)
	// A boot that stalled or ended early is counted as such; its
	// transfer, cut short, is no failed check of its own.
	if res := srv.Close(); res.Err != "" && !b.Stalled && !b.Exited {
		b.Failed("tcp: host: " + res.Err)
	}
	return b
}

// The prefixes of init's blkperf and tcp lines; parseRates reads the rest.
const (
	blkperfPrefix = "GLUE-OK init blkperf "
	tcpPrefix     = "GLUE-OK init tcp "
)

// parseRates reads the positive numbers keys name in the details of an
// init line of check, such as blkperf's "write-mibs=X read-mibs=Y mib=N"
// (test/initramfs/init/blkperf.go); other fields must be there but need
// not be numbers (tcp's digests).
func parseRates(check, details string, keys ...string) ([]float64, error) {
	got := map[string]string{}
	for _, f := range strings.Fields(details) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q in %q is not NAME=VALUE", check, f, details)
		}
		got[k] = v
	}
	rates := make([]float64, len(keys))
	for i, k := range keys {
		v, ok := got[k]
		if !ok {
			return nil, fmt.Errorf("%s: no %s in %q", check, k, details)
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x <= 0 || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%s: %s=%q in %q is not a positive number", check, k, v, details)
		}
		rates[i] = x
	}
	return rates, nil
}

// stallLines is how many of a stalled boot's last lines its report keeps.
const stallLines = 15

// measure runs argv until init prints GLUE-DONE, kills it there, and
// returns when init started and finished and what the VMM process used
// until then. Both VMMs are killed at the same point, so that neither's
// way of ending a VM counts.
func measure(argv, environ []string, deadline time.Duration) plan.Boot {
	var b plan.Boot
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = environ
	r, w, err := os.Pipe()
	if err != nil {
		b.Stalled, b.Last = true, []string{err.Error()}
		return b
	}
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		b.Stalled, b.Last = true, []string{err.Error()}
		return b
	}
	w.Close()
	lines := make(chan string)
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			lines <- strings.TrimRight(s.Text(), "\r")
		}
		close(lines)
	}()
	var last []string
	done := false
	for !done {
		select {
		case l, ok := <-lines:
			if !ok {
				b.Exited, done = true, true
				break
			}
			last = append(last[max(0, len(last)-stallLines+1):], l)
			at := time.Since(start).Seconds()
			switch {
			case strings.HasPrefix(l, blkperfPrefix):
				// Numbers that do not parse are a failed check: the
				// table must not show a boot without them.
				if r, err := parseRates("blkperf", strings.TrimPrefix(l, blkperfPrefix), "write-mibs", "read-mibs", "mib"); err != nil {
					b.Failed(err.Error())
				} else {
					b.BlkWriteMiBs, b.BlkReadMiBs = r[0], r[1]
				}
			case strings.HasPrefix(l, tcpPrefix):
				if r, err := parseRates("tcp", strings.TrimPrefix(l, tcpPrefix), "received-mibs", "sent-mibs"); err != nil {
					b.Failed(err.Error())
				} else {
					b.TCPInMiBs, b.TCPOutMiBs = r[0], r[1]
				}
			case strings.HasPrefix(l, "GLUE-OK init ") && b.InitSecs == 0:
				b.InitSecs = at
			case strings.HasPrefix(l, "GLUE-FAIL init "):
				b.Failed(l)
			case strings.HasPrefix(l, "GLUE-DONE init "):
				b.DoneSecs, done = at, true
			}
		case <-ctx.Done():
			b.Stalled, done = true, true
		}
	}
	cmd.Process.Kill()
	go func() {
		for range lines { // let the reader finish
		}
	}()
	err = cmd.Wait()
	r.Close()
	if b.DoneSecs == 0 {
		b.Last = last
		if b.Exited {
			b.Last = append(b.Last, fmt.Sprintf("(the VMM ended before GLUE-DONE: %v)", err))
		}
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		b.CPUSecs = time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime)).Seconds()
		b.MaxRSSKiB = ru.Maxrss
	}
	if b.Stalled && len(b.Last) == 0 {
		b.Last = []string{fmt.Sprintf("(no output in %v)", deadline)}
	}
	return b
}
