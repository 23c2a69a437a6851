package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// The peak RSS of a child is not what wait4 reports for it when the child
// was started by a large process: Go starts children with CLONE_VM, and at
// exec the kernel folds the shared (parent's) memory's high-water mark into
// the child's ru_maxrss. So this test binary, which holds hundreds of MiB
// while its parallel tests run, would be measured instead of glue. A small
// launcher (this binary again, started fresh, doing nothing else) starts the
// command and reports its ru_maxrss, which then is the command's own.
const peakRSSLauncher = "GLUE_INTEGRATION_PEAK_RSS_LAUNCHER"

// launchForPeakRSS is TestMain's first step: in a launcher it runs os.Args[1:]
// with this process's stdio, prints "exit=N maxrss_kib=N" on stdout, and
// exits.
func launchForPeakRSS() {
	if os.Getenv(peakRSSLauncher) == "" {
		return
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "launcher:", err)
		os.Exit(1)
	}
	fmt.Printf("exit=%d maxrss_kib=%d\n", cmd.ProcessState.ExitCode(), cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
	os.Exit(0)
}

// runPeakRSS runs glue with args and returns its exit status, its stderr and
// its peak RSS in bytes.
func runPeakRSS(t *testing.T, args ...string) (code int, stderr string, peak int64) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append([]string{glueBin}, args...)...)
	cmd.Env = append(os.Environ(), peakRSSLauncher+"=1")
	var errBuf strings.Builder
	cmd.Stderr = &errBuf
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("launcher: %v\n%s", err, errBuf.String())
	}
	var kib int64
	if _, err := fmt.Sscanf(string(out), "exit=%d maxrss_kib=%d", &code, &kib); err != nil {
		t.Fatalf("launcher's report %q: %v", out, err)
	}
	return code, errBuf.String(), kib << 10
}
