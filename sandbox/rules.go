package sandbox

import "golang.org/x/sys/unix"

// Rule is one entry of the allow-list: a system call, the conditions its
// arguments must meet (all of them; none means any arguments), and why a
// sandboxed VMM still needs it.
type Rule struct {
	Syscall string
	Args    []Condition
	Why     string
}

// threadCloneFlags are the flags the Go runtime passes to clone for a new
// OS thread (runtime.cloneFlags, plus CLONE_SETTLS that its amd64 clone
// adds); any other value (fork, vfork, a new namespace) is refused.
const threadCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_SYSVSEM | unix.CLONE_THREAD | unix.CLONE_SETTLS

func argEquals(arg int, v uint64) Condition {
	return Condition{Arg: arg, Op: Equal, Value: v}
}

func argBitsClear(arg int, bits uint64) Condition {
	return Condition{Arg: arg, Op: BitsClear, Value: bits}
}

// baseRules is what any Go program needs once it only works on open file
// descriptors: the runtime (threads, memory, signals, scheduling, the
// netpoller), I/O on fds, and the control socket's accepted connections.
var baseRules = []Rule{
	// I/O on descriptors opened before the filter: disk images, taps,
	// eventfds, the console, stdio, the control socket's connections.
	{Syscall: "read", Why: "eventfds, tap frames, stdin, control connections"},
	{Syscall: "write", Why: "eventfds, tap frames, console output, logs, control connections"},
	{Syscall: "pread64", Why: "virtio-blk reads from the disk image"},
	{Syscall: "pwrite64", Why: "virtio-blk writes to the disk image; the VM's log rotated and its record completed when it ends"},
	{Syscall: "ftruncate", Why: "the VM's log is rotated on its two open descriptors (glue run --log)"},
	{Syscall: "fdatasync", Why: "virtio-blk FLUSH, and the disk images when the VM ends"},
	{Syscall: "close", Why: "control connections; descriptors closed when the VM ends"},

	// The event loop and the Go netpoller.
	{Syscall: "epoll_ctl", Why: "event loop and netpoller: fds added and removed"},
	{Syscall: "epoll_pwait", Why: "event loop and netpoller wait"},
	{Syscall: "ppoll", Args: []Condition{argEquals(1, 1), argEquals(3, 0)}, Why: "guest console output: is the console ready for a write from the vCPU thread (one descriptor, no signal mask; console.AsyncWriter)"},

	// The control socket: connections on the listening socket made before
	// the filter; no new socket can be made.
	{Syscall: "accept4", Why: "control socket: accept a client (glue list/stop/console)"},
	{Syscall: "getsockopt", Args: []Condition{argEquals(1, unix.SOL_SOCKET), argEquals(2, unix.SO_PEERCRED)}, Why: "control socket: the client's uid (SO_PEERCRED)"},
	{Syscall: "fcntl", Args: []Condition{argEquals(1, unix.F_GETFL)}, Why: "control socket: os.NewFile reads an accepted connection's flags (non-blocking: it goes in the netpoller)"},
	{Syscall: "shutdown", Args: []Condition{argEquals(1, unix.SHUT_WR)}, Why: "glue console: the session half-closes a detached client's connection, so that the client sees its end"},
	{Syscall: "unlinkat", Args: []Condition{argEquals(2, 0)}, Why: "the control socket and its lock file are removed when the VM ends (files only: no AT_REMOVEDIR)"},

	// Memory: never executable.
	{Syscall: "mmap", Args: []Condition{argBitsClear(2, unix.PROT_EXEC)}, Why: "Go heap and stacks; PROT_EXEC refused"},
	{Syscall: "munmap", Why: "Go heap returned"},
	// madvise only with the advice the Go runtime (runtime/mem_linux.go)
	// and the balloon use: never MADV_DONTFORK, MADV_REMOVE, ...
	{Syscall: "madvise", Args: []Condition{argEquals(2, unix.MADV_DONTNEED)}, Why: "Go heap scavenger; virtio-balloon returns the pages the guest gave up (MADV_DONTNEED)"},
	{Syscall: "madvise", Args: []Condition{argEquals(2, unix.MADV_FREE)}, Why: "Go heap scavenger (MADV_FREE)"},
	{Syscall: "madvise", Args: []Condition{argEquals(2, unix.MADV_HUGEPAGE)}, Why: "Go heap: huge pages for dense spans (MADV_HUGEPAGE)"},
	{Syscall: "madvise", Args: []Condition{argEquals(2, unix.MADV_NOHUGEPAGE)}, Why: "Go heap: no huge pages for sparse spans (MADV_NOHUGEPAGE)"},
	{Syscall: "madvise", Args: []Condition{argEquals(2, unix.MADV_COLLAPSE)}, Why: "Go heap: dense spans collapsed into huge pages (MADV_COLLAPSE)"},

	// Threads and scheduling.
	{Syscall: "clone", Args: []Condition{argEquals(0, threadCloneFlags)}, Why: "new Go runtime threads, with exactly the runtime's flags (no fork, no namespaces)"},
	{Syscall: "futex", Why: "Go runtime locks and thread parking"},
	{Syscall: "sched_yield", Why: "Go runtime spinning"},
	{Syscall: "sched_getaffinity", Why: "Go runtime re-reads the CPUs it may use (GOMAXPROCS updates)"},
	{Syscall: "nanosleep", Why: "Go runtime usleep"},
	{Syscall: "clock_gettime", Why: "time, when the vDSO is not used"},
	{Syscall: "getpid", Why: "signals to the own threads (vCPU kicks, preemption)"},
	{Syscall: "gettid", Why: "signals to the own threads"},
	{Syscall: "tgkill", Why: "vCPU kicks (SIGURG) and Go preemption signals to the own threads"},
	{Syscall: "exit", Why: "a Go runtime thread ends"},
	{Syscall: "exit_group", Why: "glue exits"},
	{Syscall: "restart_syscall", Why: "a sleep interrupted by a signal resumes"},
	{Syscall: "getrandom", Why: "virtio-rng and VM names read the host's random pool; the runtime's own randomness"},

	// Signals.
	{Syscall: "rt_sigaction", Why: "Go runtime signal handlers (os/signal)"},
	{Syscall: "rt_sigprocmask", Why: "Go runtime signal masks on new threads"},
	{Syscall: "rt_sigreturn", Why: "returning from any signal handler"},
	{Syscall: "sigaltstack", Why: "Go runtime signal stacks on new threads"},
}

// Rules returns the whole allow-list for a process that still needs the
// given ioctl request numbers (on any descriptor), in their order, then
// the base rules. ioctl comes first because the filter compares calls in
// the order of their rules and a VMM's hottest call is an ioctl, KVM_RUN,
// which a caller lists first; the base calls without conditions are
// answered by the kernel's action cache wherever they come.
func Rules(ioctls []Ioctl) []Rule {
	var rules []Rule
	for _, io := range ioctls {
		rules = append(rules, Rule{Syscall: "ioctl", Args: []Condition{argEquals(1, io.Request)}, Why: io.Name + ": " + io.Why})
	}
	return append(rules, baseRules...)
}

// VsockRules are what the host side of virtio-vsock adds: the guest's
// connections to port P dial the host's Unix socket PATH_P while the VM
// runs. Only non-blocking, close-on-exec Unix stream sockets can be made;
// connect cannot be narrowed to a path by seccomp.
var VsockRules = []Rule{
	{Syscall: "socket", Args: []Condition{argEquals(0, unix.AF_UNIX), argEquals(1, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)}, Why: "vsock (only with --vsock): a Unix socket for a guest's connection to a host port"},
	{Syscall: "connect", Why: "vsock (only with --vsock): that socket connects to PATH_P"},
}

// Ioctl is one ioctl request number the caller still needs.
type Ioctl struct {
	Name    string // e.g. "KVM_RUN"
	Request uint64
	Why     string
}

// TerminalIoctls are the requests that restore a terminal's mode when the
// process ends (golang.org/x/term's Restore).
var TerminalIoctls = []Ioctl{
	{Name: "TCGETS", Request: unix.TCGETS, Why: "the terminal's mode is read"},
	{Name: "TCSETS", Request: unix.TCSETS, Why: "the terminal's mode is restored when glue ends"},
}
