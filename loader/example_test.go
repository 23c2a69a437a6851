package loader_test

import (
	"fmt"
	"log"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/loader/loadertest"
)

// Load a kernel, place an initrd above it, build its command line: the
// three steps a VMM takes before it writes the zero page and starts vCPU 0.
func Example() {
	mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 16 << 20}})
	if err != nil {
		log.Fatal(err)
	}
	defer mem.Close()

	// A tiny ELF "vmlinux" standing in for a real kernel: code at 1 MiB
	// (physical), linked at the kernel's virtual base, plus a PVH note.
	image := loadertest.ELF{
		Entry: 0x100000,
		Segments: []loadertest.Segment{
			{Paddr: 0x100000, Vaddr: 0xffffffff81000000, Data: []byte{0xf4}, MemSize: 0x3000},
		},
		Notes: []loadertest.Note{loadertest.PVHNote(0x100000)},
	}.Bytes()

	k, err := loader.Load(mem, image, loader.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s kernel at [%#x, %#x), %v entry %#x\n", k.Path, k.Start, k.End, k.Protocol, k.Entry)
	if pvh, ok := k.EntryFor(loader.PVH); ok {
		fmt.Printf("also offers PVH at %#x\n", pvh)
	}

	rd, err := loader.LoadInitrd(mem, []byte("070701..."), k)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("initrd at %#x, %d bytes\n", rd.Addr, rd.Size)

	cmdline, err := loader.NewCmdline("console=ttyS0", "reboot=k", "panic=1")
	if err != nil {
		log.Fatal(err)
	}
	if err := cmdline.CheckLength(k.CmdlineMax); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("cmdline %q (%d of at most %d bytes)\n", cmdline, cmdline.Len(), k.CmdlineMax)
	// Output:
	// elf kernel at [0x100000, 0x103000), linux64 entry 0x100000
	// also offers PVH at 0x100000
	// initrd at 0xfff000, 9 bytes
	// cmdline "console=ttyS0 reboot=k panic=1" (30 of at most 2047 bytes)
}
