package x86_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/x86"
)

// A VMM maps guest RAM with the layout's spans, loads the kernel (not shown),
// then writes the boot structures and enters the kernel with RSI pointing
// at the zero page.
func Example() {
	const memBytes = 512 << 20
	mem, err := guestmem.New(x86.RAMSpans(memBytes))
	if err != nil {
		log.Fatal(err)
	}
	defer mem.Close()

	err = x86.WriteBootMemory(mem, x86.BootConfig{
		Protocol: loader.Linux64,
		Cmdline:  "console=ttyS0 panic=-1",
		NumCPUs:  2,
	})
	if err != nil {
		log.Fatal(err)
	}

	// The memory map the zero page carries, as Linux prints it.
	e820, err := x86.E820Map(x86.RAMSpans(memBytes))
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range e820 {
		fmt.Printf("BIOS-e820: [mem 0x%016x-0x%016x] %s\n", e.Addr, uint64(e.Addr)+e.Size-1, e.Type)
	}

	cmdline := make([]byte, 64)
	if err := mem.ReadAt(cmdline, x86.CmdlineAddr); err != nil {
		log.Fatal(err)
	}
	cmdline, _, _ = bytes.Cut(cmdline, []byte{0})
	fmt.Printf("command line at %#x: %s\n", x86.CmdlineAddr, cmdline)
	fmt.Printf("RSI = %#x\n", x86.ZeroPageAddr)
	// Output:
	// BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
	// BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved
	// BIOS-e820: [mem 0x0000000000100000-0x000000001fffffff] usable
	// command line at 0x20000: console=ttyS0 panic=-1
	// RSI = 0x7000
}
