package vmm_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gluevmm/glue/vmm"
)

// Build and run a VM with glue's built-in guest, as `glue run -c 2` does.
// (It needs /dev/kvm, so go test compiles it without running it; the
// package tests run the same steps.)
func Example() {
	vm, err := vmm.Build(context.Background(), vmm.Config{
		CPUs:    2,
		MemMiB:  256,
		Cmdline: "glue.test=cpus,mem",
		Console: os.Stdout,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vm.Close()
	outcome, err := vm.Run(context.Background())
	fmt.Println(outcome, err)
}
