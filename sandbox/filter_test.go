package sandbox

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompData is struct seccomp_data as a filter sees it.
type seccompData struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

// verdict runs the filter on d in golang.org/x/net/bpf's interpreter, an
// implementation of the BPF machine independent of the kernel's (the
// kernel's own runs in TestFilterBites). The interpreter loads words
// big-endian where the kernel loads them in the CPU's order, so each
// 32-bit word is laid out big-endian: every load of the filter reads one
// whole, aligned word, so it reads the value the kernel would.
func verdict(t *testing.T, prog []bpf.Instruction, d seccompData) uint32 {
	t.Helper()
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("the filter does not load: %v", err)
	}
	buf := make([]byte, dataArgs+6*8)
	binary.BigEndian.PutUint32(buf[dataNr:], d.nr)
	binary.BigEndian.PutUint32(buf[dataArch:], d.arch)
	for i, a := range d.args {
		binary.BigEndian.PutUint32(buf[dataArgs+8*i:], uint32(a))
		binary.BigEndian.PutUint32(buf[dataArgs+8*i+4:], uint32(a>>32))
	}
	v, err := vm.Run(buf)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(v)
}

const (
	allow  = unix.SECCOMP_RET_ALLOW
	trap   = unix.SECCOMP_RET_TRAP
	enosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

func x86(nr uint32, args ...uint64) seccompData {
	d := seccompData{nr: nr, arch: unix.AUDIT_ARCH_X86_64}
	copy(d.args[:], args)
	return d
}

// TestProgramVerdicts checks what the compiled filter answers for each
// kind of rule, and for the calls no rule allows.
func TestProgramVerdicts(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		{Syscall: "read"},
		{Syscall: "mmap", Args: []Condition{argBitsClear(2, unix.PROT_EXEC)}},
		{Syscall: "madvise", Args: []Condition{argEquals(2, unix.MADV_DONTNEED)}},
		{Syscall: "madvise", Args: []Condition{argEquals(2, unix.MADV_FREE)}},
		{Syscall: "getsockopt", Args: []Condition{argEquals(1, unix.SOL_SOCKET), argEquals(2, unix.SO_PEERCRED)}},
		{Syscall: "write"},
		{Syscall: "read"}, // a repeated unconditional rule changes nothing
	}
	// Enough ioctl requests that the block is longer than a conditional
	// jump's 255 instructions can skip.
	for req := uint64(0xae00); req < 0xae00+80; req++ {
		rules = append(rules, Rule{Syscall: "ioctl", Args: []Condition{argEquals(1, req)}})
	}
	prog, err := Program(rules, Trap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatalf("the filter does not assemble: %v", err)
	}
	const (
		protRW   = unix.PROT_READ | unix.PROT_WRITE
		protExec = unix.PROT_READ | unix.PROT_EXEC
	)
	cases := []struct {
		name string
		data seccompData
		want uint32
	}{
		{"unconditional", x86(unix.SYS_READ), allow},
		{"unconditional, any arguments", x86(unix.SYS_WRITE, 1, 2, 3), allow},
		{"no rule", x86(unix.SYS_OPENAT), trap},
		{"no rule, number after the last call's", x86(unix.SYS_RSEQ), trap},
		{"another architecture's ABI", seccompData{nr: unix.SYS_READ, arch: unix.AUDIT_ARCH_I386}, trap},
		{"x32 ABI", x86(x32Bit | unix.SYS_READ), enosys},
		{"bits clear", x86(unix.SYS_MMAP, 0, 4096, protRW), allow},
		{"bits set in the low half", x86(unix.SYS_MMAP, 0, 4096, protExec), trap},
		{"equal, first set", x86(unix.SYS_MADVISE, 0, 4096, unix.MADV_DONTNEED), allow},
		{"equal, second set", x86(unix.SYS_MADVISE, 0, 4096, unix.MADV_FREE), allow},
		{"equal, no set", x86(unix.SYS_MADVISE, 0, 4096, unix.MADV_REMOVE), trap},
		{"equal in the low half only", x86(unix.SYS_MADVISE, 0, 4096, 1<<32|unix.MADV_DONTNEED), trap},
		{"all conditions of a set", x86(unix.SYS_GETSOCKOPT, 3, unix.SOL_SOCKET, unix.SO_PEERCRED), allow},
		{"one condition of a set only", x86(unix.SYS_GETSOCKOPT, 3, unix.SOL_SOCKET, unix.SO_RCVBUF), trap},
		{"the other condition only", x86(unix.SYS_GETSOCKOPT, 3, unix.SOL_IP, unix.SO_PEERCRED), trap},
		{"first ioctl", x86(unix.SYS_IOCTL, 5, 0xae00), allow},
		{"last ioctl", x86(unix.SYS_IOCTL, 5, 0xae00+79), allow},
		{"ioctl outside the list", x86(unix.SYS_IOCTL, 5, 0xae00+80), trap},
		{"ioctl with high bits", x86(unix.SYS_IOCTL, 5, 1<<40|0xae00), trap},
	}
	for _, c := range cases {
		if got := verdict(t, prog, c.data); got != c.want {
			t.Errorf("%s: %s: verdict %#x, want %#x", c.name, syscallNames[c.data.nr&^x32Bit], got, c.want)
		}
	}

	logged, err := Program(rules, Log)
	if err != nil {
		t.Fatal(err)
	}
	if got := verdict(t, logged, x86(unix.SYS_OPENAT)); got != unix.SECCOMP_RET_LOG {
		t.Errorf("Log: a call without a rule gets %#x, want SECCOMP_RET_LOG", got)
	}
	if got := verdict(t, logged, x86(unix.SYS_IOCTL, 5, 0xae00+80)); got != unix.SECCOMP_RET_LOG {
		t.Errorf("Log: a call failing its conditions gets %#x, want SECCOMP_RET_LOG", got)
	}
}

func TestProgramRefusesBadRules(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rules []Rule
		want  string
	}{
		{[]Rule{{Syscall: "no_such_call"}}, `no system call "no_such_call"`},
		{[]Rule{{Syscall: ""}}, `no system call ""`},
		{[]Rule{{Syscall: "ioctl", Args: []Condition{argEquals(1, 1)}}, {Syscall: "ioctl"}}, "both with and without"},
		{[]Rule{{Syscall: "ioctl"}, {Syscall: "ioctl", Args: []Condition{argEquals(1, 1)}}}, "both with and without"},
		{[]Rule{{Syscall: "mmap", Args: []Condition{argEquals(6, 0)}}}, "arguments 0 to 5"},
		{[]Rule{{Syscall: "mmap", Args: []Condition{{Arg: 0, Op: Op(7)}}}}, "unknown comparison"},
	} {
		_, err := Program(c.rules, Trap)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Program(%v) = %v, want an error with %q", c.rules, err, c.want)
		}
	}
}

// The table agrees with golang.org/x/sys/unix's constants, which the
// kernel's numbers come from, and is what mksysnames.go makes of them
// today.
func TestSyscallNames(t *testing.T) {
	t.Parallel()
	for name, nr := range map[string]int{
		"read": unix.SYS_READ, "ioctl": unix.SYS_IOCTL, "clone": unix.SYS_CLONE,
		"openat": unix.SYS_OPENAT, "epoll_pwait": unix.SYS_EPOLL_PWAIT,
		"rt_sigreturn": unix.SYS_RT_SIGRETURN, "newfstatat": unix.SYS_NEWFSTATAT,
	} {
		if got, ok := syscallNumber(name); !ok || int(got) != nr {
			t.Errorf("%s: number %d (found %v), want %d", name, got, ok, nr)
		}
	}
	out := filepath.Join(t.TempDir(), "names.go")
	gen := exec.Command("go", "run", "mksysnames.go", "-o", out)
	if b, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("go run mksysnames.go: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("zsysnames_linux_amd64.go")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Error("zsysnames_linux_amd64.go is not what mksysnames.go generates now: run `go generate` in sandbox")
	}
}
