package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// probeEnv names the call internal/probe makes once sandboxed.
const probeEnv = "GLUE_SANDBOX_TEST_PROBE"

// probeBin is internal/probe, built by TestMain.
var probeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sandbox-probe-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	probeBin = filepath.Join(dir, "probe")
	build := exec.Command("go", "build", "-o", probeBin, "github.com/gluevmm/glue/sandbox/internal/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the probe: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Terminal-independent ioctls on a pipe (as internal/probe uses them):
// FIONREAD is allowed, FIONBIO not.
const fionbio = 0x5421

type probeResult struct {
	exit   int
	stdout string
	stderr string
}

func startProbe(t *testing.T, name string, extraEnv ...string) probeResult {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(probeBin)
	cmd.Env = append(os.Environ(), probeEnv+"="+name, probeEnv+"_FILE="+file, probeEnv+"_DIR="+sub)
	cmd.Env = append(cmd.Env, extraEnv...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := probeResult{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFilterBites runs each rule class in a probe process with the
// filter: a refused call must end the process with ExitBlocked and the
// line naming the call; an allowed one must go through.
func TestFilterBites(t *testing.T) {
	t.Parallel()
	cases := []struct {
		probe   string
		blocked string // the handler's line names this; "" = must survive
	}{
		{"execve", "(execve)"},
		{"open", "(openat)"},
		{"socket-inet", "(socket) args 0x2 0x1 0x0"},
		{"mmap-exec", "(mmap)"},
		{"mmap-rw", ""},
		{"mprotect-exec", "(mprotect)"},
		{"ioctl-other", fmt.Sprintf(" 0x%x 0x", fionbio)},
		{"ioctl-allowed", ""},
		{"fork", "(clone)"},
		{"rmdir", "(unlinkat)"},
		{"unlink-file", ""},
		{"thread", ""},
		{"setrlimit", "(prlimit64)"},
		{"getsockopt-so", "(getsockopt)"},
		{"shutdown-wr", ""},
		{"shutdown-rdwr", "(shutdown) args 0x"},
		{"madvise-dontneed", ""},
		{"madvise-remove", "(madvise) args 0x"},
	}
	for _, c := range cases {
		t.Run(c.probe, func(t *testing.T) {
			t.Parallel()
			r := startProbe(t, c.probe)
			if c.blocked == "" {
				if r.exit != 0 || !strings.Contains(r.stdout, "survived") {
					t.Fatalf("allowed call ended the probe: exit %d, stdout %q, stderr %q", r.exit, r.stdout, r.stderr)
				}
				return
			}
			if r.exit != ExitBlocked {
				t.Fatalf("exit status %d, want %d (blocked); stdout %q, stderr %q", r.exit, ExitBlocked, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, "glue: seccomp: blocked system call ") || !strings.Contains(r.stderr, c.blocked) {
				t.Fatalf("stderr %q does not name %q", r.stderr, c.blocked)
			}
		})
	}
}

// TestLogModeAllows checks that with Log a refused call goes through.
func TestLogModeAllows(t *testing.T) {
	t.Parallel()
	r := startProbe(t, "socket-inet", probeEnv+"_LOG=1")
	if r.exit != 0 || !strings.Contains(r.stdout, "survived: <nil>") {
		t.Fatalf("log mode: exit %d, stdout %q, stderr %q", r.exit, r.stdout, r.stderr)
	}
}
