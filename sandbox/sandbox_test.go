package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// probeEnv makes the test binary a probe process: it installs the filter,
// makes one system call and reports whether it survived. It exists only in
// this test binary.
const probeEnv = "GLUE_SANDBOX_TEST_PROBE"

// testIoctl is the one ioctl request the probes' filter allows.
var testIoctl = Ioctl{Name: "FIONREAD", Request: fionread, Why: "test"}

// Terminal-independent ioctls on a pipe: FIONREAD is allowed, FIONBIO not.
const (
	fionread = 0x541b
	fionbio  = 0x5421
)

func TestMain(m *testing.M) {
	if name := os.Getenv(probeEnv); name != "" {
		os.Exit(runProbe(name))
	}
	os.Exit(m.Run())
}

// probes are the calls a probe process makes once sandboxed. Each gets the
// paths prepared before the filter: an existing file and directory.
var probes = map[string]func(file, dir string) error{
	"execve":        func(string, string) error { return syscall.Exec("/bin/true", []string{"true"}, nil) },
	"open":          func(file, _ string) error { _, err := os.Open(file); return err },
	"socket-inet":   func(string, string) error { _, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0); return err },
	"mmap-exec":     func(string, string) error { return mmapProt(unix.PROT_READ | unix.PROT_EXEC) },
	"mmap-rw":       func(string, string) error { return mmapProt(unix.PROT_READ | unix.PROT_WRITE) },
	"mprotect-exec": mprotectExec,
	"ioctl-other":   func(string, string) error { return ioctlOnPipe(fionbio) },
	"ioctl-allowed": func(string, string) error { return ioctlOnPipe(fionread) },
	"fork":          rawFork,
	"rmdir":         func(_, dir string) error { return unix.Unlinkat(unix.AT_FDCWD, dir, unix.AT_REMOVEDIR) },
	"unlink-file":   func(file, _ string) error { return unix.Unlinkat(unix.AT_FDCWD, file, 0) },
	"thread":        newThreadSyscall,
	"setrlimit": func(string, string) error {
		return unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 1 << 20, Max: 1 << 20})
	},
	"getsockopt-so": getsockoptType,
}

// rawFork is fork(2) as clone(SIGCHLD); a child, should there be one,
// exits at once.
func rawFork(string, string) error {
	pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno == 0 && pid == 0 {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func mmapProt(prot int) error {
	b, err := unix.Mmap(-1, 0, 4096, prot, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	return unix.Munmap(b)
}

func mprotectExec(string, string) error {
	b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	return unix.Mprotect(b, unix.PROT_READ|unix.PROT_EXEC)
}

// pipeFDs is a pipe made before the filter, for the ioctl probes.
var pipeFDs [2]int

func ioctlOnPipe(req uint) error {
	_, err := unix.IoctlGetInt(pipeFDs[0], req)
	return err
}

// newThreadSyscall makes the Go runtime start OS threads after the filter
// (a goroutine blocked in a system call on each), proving they may be made
// and that they carry the filter: the last one calls socket.
func newThreadSyscall(string, string) error {
	done := make(chan error)
	for range 8 {
		go func() {
			var ts unix.Timespec
			done <- unix.Nanosleep(&unix.Timespec{Nsec: 1e6}, &ts)
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			return err
		}
	}
	return nil
}

// socketFDs is a socket pair made before the filter, as glue's control
// socket is.
var socketFDs [2]int

func getsockoptType(string, string) error {
	_, err := unix.GetsockoptInt(socketFDs[0], unix.SOL_SOCKET, unix.SO_TYPE)
	return err
}

func runProbe(name string) int {
	probe, ok := probes[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "no probe %q\n", name)
		return 2
	}
	if err := unix.Pipe2(pipeFDs[:], unix.O_CLOEXEC); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	socketFDs = [2]int(fds)
	action := Trap
	if os.Getenv(probeEnv+"_LOG") != "" {
		action = Log
	}
	if err := Install(Rules([]Ioctl{testIoctl}), action); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = probe(os.Getenv(probeEnv+"_FILE"), os.Getenv(probeEnv+"_DIR"))
	fmt.Printf("survived: %v\n", err)
	return 0
}

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
	cmd := exec.Command(os.Args[0], "-test.run=^$")
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
