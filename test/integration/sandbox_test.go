package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/test/hosttest"
)

// procStatus returns the Seccomp and NoNewPrivs fields of every thread of
// pid, keyed by thread id.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no threads of %d: %v", pid, err)
	}
	threads := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended meanwhile
		}
		var fields []string
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && (k == "Seccomp" || k == "NoNewPrivs") {
				fields = append(fields, k+"="+strings.TrimSpace(v))
			}
		}
		threads[filepath.Base(filepath.Dir(p))] = strings.Join(fields, " ")
	}
	return threads
}

// checkThreads fails unless every thread of pid is in seccomp filter mode
// (2) with no_new_privs set; it returns how many threads it saw.
func checkThreads(t *testing.T, pid int, want string) int {
	t.Helper()
	threads := procStatus(t, pid)
	for tid, got := range threads {
		if got != want {
			t.Errorf("thread %s of glue: %s, want %s", tid, got, want)
		}
	}
	return len(threads)
}

// limitsOf returns /proc/PID/limits' soft and hard values by name.
func limitsOf(t *testing.T, pid int) map[string][2]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	limits := map[string][2]string{}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		if len(line) < 26 {
			continue
		}
		f := strings.Fields(line[25:])
		if len(f) >= 2 {
			limits[strings.TrimSpace(line[:25])] = [2]string{f[0], f[1]}
		}
	}
	return limits
}

// guestMappingFlags returns the VmFlags of the mapping of exactly sizeKiB
// (the guest's RAM) in /proc/PID/smaps.
func guestMappingFlags(t *testing.T, pid int, sizeKiB int) []string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	sizeLine := fmt.Sprintf("Size: %d kB", sizeKiB)
	var inGuest bool
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "Size:"):
			inGuest = strings.Join(strings.Fields(line), " ") == sizeLine
		case inGuest && strings.HasPrefix(line, "VmFlags:"):
			return strings.Fields(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	t.Fatalf("no %d KiB mapping (the guest's RAM) in smaps", sizeKiB)
	return nil
}

// A running VM: every thread is filtered with no_new_privs, before and
// after a pause and resume (the vCPU threads start after the filter, and
// the Go runtime may add threads any time: they must inherit it); core
// dumps are off, the file and thread limits are set (soft = hard), and the
// guest's RAM is excluded from core dumps.
func TestFeaturesSandboxRunningVM(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	s := startGlue(t, "--runtime-dir", dir, "run", "-n", "sandboxed", "-c", "2", "-m", "64", "--rng", "-p", "glue.test=counter")
	s.waitFor("GLUE-COUNT 3", time.Minute)
	pid := s.cmd.Process.Pid
	const want = "NoNewPrivs=1 Seccomp=2"
	before := checkThreads(t, pid, want)

	glueIn(t, dir, "pause", "-n", "sandboxed")
	glueIn(t, dir, "resume", "-n", "sandboxed")
	glueIn(t, dir, "list")
	s.waitFor("GLUE-COUNT 6", time.Minute)
	after := checkThreads(t, pid, want)
	t.Logf("threads checked: %d before the pause, %d after", before, after)

	limits := limitsOf(t, pid)
	if got := limits["Max core file size"]; got != [2]string{"0", "0"} {
		t.Errorf("core file size limit %v, want 0 0", got)
	}
	if got := limits["Max open files"]; got[0] != got[1] || got[0] == "unlimited" || got[0] == "" {
		t.Errorf("Max open files: %v, want one finite value as soft and hard limit", got)
	}
	// The kernel does not hold root to RLIMIT_NPROC, so glue leaves it
	// (the jailed VM's test checks the limit glue sets for its uid).
	var own unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &own); err != nil {
		t.Fatal(err)
	}
	if got, want := limits["Max processes"], [2]string{rlimitString(own.Cur), rlimitString(own.Max)}; got != want {
		t.Errorf("Max processes: %v, want root's %v left as it was", got, want)
	}
	if flags := guestMappingFlags(t, pid, 64<<10); !contains(flags, "dd") {
		t.Errorf("guest RAM mapping's VmFlags %v lack dd (MADV_DONTDUMP)", flags)
	}
	glueIn(t, dir, "stop", "-n", "sandboxed")
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("stop: exit %d\n%s", code, s.output())
	}
}

// rlimitString is a limit as /proc/PID/limits writes it.
func rlimitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// --seccomp=off installs no filter and says so; no_new_privs and the
// limits still apply.
func TestFeaturesSeccompOff(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	s := startGlue(t, "run", "--seccomp=off", "-m", "64", "-p", "glue.test=counter")
	s.waitFor("GLUE-COUNT 2", time.Minute)
	if !strings.Contains(s.output(), "seccomp is off") {
		t.Errorf("no warning that seccomp is off:\n%s", s.output())
	}
	checkThreads(t, s.cmd.Process.Pid, "NoNewPrivs=1 Seccomp=0")
	if got := limitsOf(t, s.cmd.Process.Pid)["Max core file size"]; got != [2]string{"0", "0"} {
		t.Errorf("core file size limit %v, want 0 0", got)
	}
}

// --seccomp=log installs the filter in log mode: a call outside it goes
// through (the probe survives) and the VM keeps running.
func TestFeaturesSeccompLog(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	bin := buildGlue(t, "glue_seccomp_probe")
	res := runProbeVM(t, bin, "socket", "--seccomp=log")
	if res.code != 0 || !strings.Contains(res.stderr, "seccomp probe survived: <nil>") || !strings.Contains(res.stderr, "log mode") {
		t.Fatalf("log mode: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	// The kernel's audit record of the call (SECCOMP_RET_LOG).
	kernelLog, err := exec.Command(hosttest.LookPath(t, "dmesg")).Output()
	if err != nil {
		t.Fatalf("dmesg: %v", err)
	}
	want := fmt.Sprintf("pid=%d ", res.pid)
	for _, line := range strings.Split(string(kernelLog), "\n") {
		if strings.Contains(line, "type=1326") && strings.Contains(line, want) && strings.Contains(line, " syscall=41 ") {
			return
		}
	}
	t.Fatalf("no audit record (type=1326, %ssyscall=41) in the kernel log", want)
}

type probeResult struct {
	result
	pid int
}

// runProbeVM runs the counter guest in a glue built with the probe tag,
// whose goroutine makes the call probe names once the VM is confined; the
// VM is stopped after a few counts if it is still running.
func runProbeVM(t *testing.T, bin, probe string, args ...string) probeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := vmDir(t)
	name := "probe-" + probe
	cmd := exec.CommandContext(ctx, bin, append([]string{"--runtime-dir", dir, "run", "-n", name, "-m", "64", "-p", "glue.test=counter"}, args...)...)
	cmd.Env = append(os.Environ(), "GLUE_SECCOMP_PROBE="+probe)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		// Still running: a survivor (log mode) or a filter that lets the
		// call through. Stop it through the control socket.
		exec.Command(bin, "--runtime-dir", dir, "stop", "-n", name).Run()
		err = <-done
	}
	res := probeResult{result: result{stdout: stdout.String(), stderr: stderr.String()}, pid: cmd.Process.Pid}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return res
}

// A forbidden call from a thread of a running glue ends it with exit
// status 159 and the line naming the call, for each rule class; an allowed
// call that no other test makes on this host (KVM_IRQ_LINE) goes through.
func TestFeaturesSeccompBlocks(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	bin := buildGlue(t, "glue_seccomp_probe")
	for _, c := range []struct{ probe, line, more string }{
		{"execve", "blocked system call 59 (execve)", ""},
		{"open", "blocked system call 257 (openat)", ""},
		{"socket", "blocked system call 41 (socket) args 0x2 0x1 0x0", ""},
		{"mmap-exec", "blocked system call 9 (mmap) args 0x0 0x1000 0x5", ""},
		{"kvm-ioctl", "blocked system call 16 (ioctl) args 0x", "0xae41 0x64"}, // KVM_CREATE_VCPU, id 100
		{"fork", "blocked system call 56 (clone) args 0x11 ", ""},
		{"irq-line", "", ""},
	} {
		t.Run(c.probe, func(t *testing.T) {
			t.Parallel()
			res := runProbeVM(t, bin, c.probe)
			if c.line == "" { // an allowed call: the VM runs on until stopped
				if res.code != 0 || !strings.Contains(res.stderr, "seccomp probe survived: <nil>") {
					t.Fatalf("allowed call: exit %d, stderr:\n%s", res.code, res.stderr)
				}
				return
			}
			if res.code != 159 || !strings.Contains(res.stderr, "glue: seccomp: "+c.line) || !strings.Contains(res.stderr, c.more) {
				t.Fatalf("exit %d, want 159 with %q (and %q) in stderr:\n%s", res.code, c.line, c.more, res.stderr)
			}
		})
	}
}
