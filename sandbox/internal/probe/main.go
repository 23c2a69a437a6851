// Command probe is package sandbox's test helper: it installs the filter,
// makes the one system call GLUE_SANDBOX_TEST_PROBE names, and prints
// "survived" if the call came back. It is built without the race detector
// (whose runtime makes calls of its own that the filter refuses), so the
// tests build it rather than re-running the test binary.
package main

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/sandbox"
)

const probeEnv = "GLUE_SANDBOX_TEST_PROBE"

func main() { os.Exit(runProbe(os.Getenv(probeEnv))) }

// testIoctl is the one ioctl request the probes' filter allows.
var testIoctl = sandbox.Ioctl{Name: "FIONREAD", Request: fionread, Why: "test"}

// Terminal-independent ioctls on a pipe: FIONREAD is allowed, FIONBIO not.
const (
	fionread = 0x541b
	fionbio  = 0x5421
)

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
	"getsockopt-so":    getsockoptType,
	"shutdown-wr":      func(string, string) error { return shutdownPair(unix.SHUT_WR) },
	"shutdown-rdwr":    func(string, string) error { return shutdownPair(unix.SHUT_RDWR) },
	"madvise-dontneed": func(string, string) error { return madviseNew(unix.MADV_DONTNEED) },
	"madvise-remove":   func(string, string) error { return madviseNew(unix.MADV_REMOVE) },
}

// madviseNew gives a fresh anonymous page the advice.
func madviseNew(advice int) error {
	b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	defer unix.Munmap(b)
	return unix.Madvise(b, advice)
}

// shutdownPair shuts one end of the socket pair made before the filter
// down as how says.
func shutdownPair(how int) error {
	return unix.Shutdown(socketFDs[0], how)
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
	action := sandbox.Trap
	if os.Getenv(probeEnv+"_LOG") != "" {
		action = sandbox.Log
	}
	if err := sandbox.Install(sandbox.Rules([]sandbox.Ioctl{testIoctl}), action); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = probe(os.Getenv(probeEnv+"_FILE"), os.Getenv(probeEnv+"_DIR"))
	fmt.Printf("survived: %v\n", err)
	return 0
}
