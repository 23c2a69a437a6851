package sandbox_test

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/sandbox"
)

// Program shows the filter a rule set compiles to: the architecture and
// x32 checks, then one comparison per call allowed outright, and a block
// of argument checks for a call allowed only with some arguments. In the
// listing, 3221225534 is AUDIT_ARCH_X86_64, 1073741824 the x32 bit,
// 196608 SECCOMP_RET_TRAP, 327718 ENOSYS, 2147418112 SECCOMP_RET_ALLOW;
// an argument is two 32-bit words from offset 16 (ioctl's request, its
// argument 1, at 24 and 28).
func ExampleProgram() {
	rules := []sandbox.Rule{
		{Syscall: "read", Why: "virtio queues"},
		{Syscall: "ioctl", Args: []sandbox.Condition{{Arg: 1, Op: sandbox.Equal, Value: unix.TCGETS}}, Why: "the terminal's mode"},
	}
	prog, err := sandbox.Program(rules, sandbox.Trap)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ins := range prog {
		fmt.Println(ins)
	}
	// Output:
	// ld [4]
	// jeq #3221225534,1
	// ret #196608
	// ld [0]
	// jlt #1073741824,1
	// ret #327718
	// jneq #0,1
	// ret #2147418112
	// jeq #16,1
	// ja 6
	// ld [24]
	// jneq #21505,3
	// ld [28]
	// jneq #0,1
	// ret #2147418112
	// ret #196608
	// ret #196608
}
