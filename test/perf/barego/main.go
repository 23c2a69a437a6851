// Command barego is bare/bare.c in Go: the smallest Go program that runs
// the project's own guest, the benchmark suite's "bare Go" peer. Where
// bare.c is the practical limit of any VMM, barego is the limit of a VMM
// written in Go: the Go runtime's start-up, threads, heap and scheduler,
// and nothing of glue (it imports only the standard library and
// golang.org/x/sys/unix). glue's distance to it is what glue itself costs.
//
//	barego [-w] [-m MiB] guest.elf 'kernel command line'
//
// It does what bare.c does, the same way, in the same order; see bare.c
// for the boot protocol and the few ports the guest's tests need. The one
// difference a Go program cannot avoid: the vCPU runs on the main
// goroutine, locked to its thread, while the runtime keeps its own
// threads (sysmon, and any it starts when a system call blocks).
package main

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Guest-physical layout: bare.c's, which is glue's (x86/layout.go).
const (
	gdtAddr     = 0x500
	zeroPage    = 0x7000
	stackTop    = 0x8ff0
	pml4Addr    = 0x9000
	pdptAddr    = 0xa000
	pdAddr      = 0xb000
	cmdlineAddr = 0x20000
	cmdlineMax  = 0x10000
	lowRAMEnd   = 0x9fc00
	highRAM     = 0x100000

	zpE820Entries = 0x1e8
	zpCmdlinePtr  = 0x228
	zpE820Table   = 0x2d0
	e820RAM       = 1
)

// The ports bare.c handles.
const (
	com1        = 0x3f8
	uartTHR     = 0
	uartIIR     = 2
	uartLCR     = 3
	uartLSR     = 5
	lcrDLAB     = 0x80
	lsrEmpty    = 0x60
	iirFIFO     = 0xc1
	i8042Status = 0x64
	i8042Cmd    = 0x64
	i8042Reset  = 0xfe
)

// <linux/kvm.h>: the requests, and the layouts this program reads and
// writes (offsets into struct kvm_run, kvm_sregs and kvm_regs).
const (
	kvmGetAPIVersion       = 0xae00
	kvmCreateVM            = 0xae01
	kvmGetVCPUMmapSize     = 0xae04
	kvmGetSupportedCPUID   = 0xc008ae05
	kvmCreateVCPU          = 0xae41
	kvmSetUserMemoryRegion = 0x4020ae46
	kvmRun                 = 0xae80
	kvmSetRegs             = 0x4090ae82
	kvmGetSregs            = 0x8138ae83
	kvmSetSregs            = 0x4138ae84
	kvmSetCPUID2           = 0x4008ae90
	kvmAPIVersion          = 12

	exitIO            = 2
	exitHLT           = 5
	exitMMIO          = 6
	exitShutdown      = 8
	exitFailEntry     = 9
	exitInternalError = 17
	exitIOIn          = 0

	runExitReason = 8
	runIO         = 32 // struct { u8 direction, size; u16 port; u32 count; u64 data_offset }
	runMMIO       = 32 // struct { u64 phys_addr; u8 data[8]; u32 len; u8 is_write }

	sregsSize   = 312
	segmentSize = 24 // struct kvm_segment
	sregsGDT    = 8 * segmentSize
	sregsCR0    = 224
	sregsCR3    = 240
	sregsCR4    = 248
	sregsEFER   = 264
	regsSize    = 144
	regsRSI     = 32
	regsRSP     = 48
	regsRIP     = 128
	regsRFLAGS  = 136
	cpuidEntry  = 40 // struct kvm_cpuid_entry2
	cpuidMax    = 256
	cpuidHeader = 8 // u32 nent, padding
)

var le = binary.LittleEndian

func main() {
	wait := flag.Bool("w", false, "at the guest's halt, wait to be killed")
	mib := flag.Uint64("m", 512, "guest RAM in MiB")
	flag.Usage = func() { fmt.Fprintln(os.Stderr, "usage: barego [-w] [-m MiB] guest.elf 'command line'") }
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	if *mib < 4 || *mib > 3072 {
		fmt.Fprintln(os.Stderr, "barego: -m: want 4 to 3072 (MiB, below the PCI hole)")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), *mib<<20, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "barego:", err)
		os.Exit(1)
	}
}

func run(elfPath, cmdline string, ramSize uint64, waitAtHalt bool) error {
	runtime.LockOSThread() // the vCPU's thread, as KVM expects
	kvm, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("/dev/kvm: %w", err)
	}
	if v, err := ioctl(kvm, kvmGetAPIVersion, 0); err != nil || v != kvmAPIVersion {
		return errors.New("unexpected KVM API version")
	}
	vm, err := ioctl(kvm, kvmCreateVM, 0)
	if err != nil {
		return fmt.Errorf("KVM_CREATE_VM: %w", err)
	}
	ram, err := unix.Mmap(-1, 0, int(ramSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return fmt.Errorf("mmap guest RAM: %w", err)
	}
	var slot [32]byte // struct kvm_userspace_memory_region: slot, flags, gpa, size, uaddr
	le.PutUint64(slot[16:], ramSize)
	le.PutUint64(slot[24:], addressOf(ram))
	if _, err := ioctlBytes(vm, kvmSetUserMemoryRegion, slot[:]); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION: %w", err)
	}
	entry, err := loadELF(elfPath, ram)
	if err != nil {
		return err
	}
	if err := writeBootStructures(ram, cmdline); err != nil {
		return err
	}
	vcpu, err := ioctl(vm, kvmCreateVCPU, 0)
	if err != nil {
		return fmt.Errorf("KVM_CREATE_VCPU: %w", err)
	}
	runSize, err := ioctl(kvm, kvmGetVCPUMmapSize, 0)
	if err != nil {
		return fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	kvmRunPage, err := unix.Mmap(vcpu, 0, runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap kvm_run: %w", err)
	}
	if err := setCPUID(kvm, vcpu); err != nil {
		return err
	}
	if err := setLongMode(vcpu, entry); err != nil {
		return err
	}
	var lcr byte
	for {
		if _, err := ioctl(vcpu, kvmRun, 0); err != nil {
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			return fmt.Errorf("KVM_RUN: %w", err)
		}
		switch le.Uint32(kvmRunPage[runExitReason:]) {
		case exitIO:
			if portIO(kvmRunPage, &lcr) {
				return nil // the guest's reset
			}
		case exitMMIO:
			if kvmRunPage[runMMIO+20] == 0 { // a read: all ones
				for i := range 8 {
					kvmRunPage[runMMIO+8+i] = 0xff
				}
			}
		case exitHLT:
			// No irqchip and interrupts off: the guest's end.
			if !waitAtHalt {
				return nil
			}
			for {
				unix.Pause()
			}
		case exitShutdown:
			return nil // a triple fault: the glue.end=triple end
		case exitFailEntry:
			return fmt.Errorf("KVM_EXIT_FAIL_ENTRY, reason %#x", le.Uint64(kvmRunPage[32:]))
		case exitInternalError:
			return fmt.Errorf("KVM_EXIT_INTERNAL_ERROR, suberror %d", le.Uint32(kvmRunPage[32:]))
		default:
			return fmt.Errorf("unexpected exit reason %d", le.Uint32(kvmRunPage[runExitReason:]))
		}
	}
}

// portIO handles one port-I/O exit as bare.c's port_io does; true at the
// guest's reset.
func portIO(run []byte, lcr *byte) bool {
	in := run[runIO] == exitIOIn
	size, port := int(run[runIO+1]), le.Uint16(run[runIO+2:])
	count, off := int(le.Uint32(run[runIO+4:])), le.Uint64(run[runIO+8:])
	if off > uint64(len(run)) || uint64(size*count) > uint64(len(run))-off || size*count == 0 {
		return false
	}
	data := run[off : off+uint64(size*count)]
	if in {
		v := byte(0xff)
		switch port {
		case com1 + uartLSR:
			v = lsrEmpty
		case com1 + uartIIR:
			v = iirFIFO
		case com1 + uartLCR:
			v = *lcr
		case i8042Status:
			v = 0 // input buffer empty
		}
		for i := range data {
			data[i] = v
		}
		return false
	}
	switch {
	case port == com1+uartLCR:
		*lcr = data[len(data)-1]
	case port == com1+uartTHR && size == 1 && *lcr&lcrDLAB == 0:
		// Unbuffered, straight from the vCPU thread, as bare.c.
		unix.Write(1, data)
	case port == i8042Cmd && data[0] == i8042Reset:
		return true
	}
	return false
}

// loadELF copies the ELF's PT_LOAD segments to their physical addresses;
// the zero tails stay untouched, fresh anonymous memory.
func loadELF(path string, ram []byte) (uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return 0, errors.New("not an x86-64 ELF")
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if p.Filesz > p.Memsz || p.Paddr < highRAM || p.Paddr > uint64(len(ram)) || p.Memsz > uint64(len(ram))-p.Paddr {
			return 0, errors.New("ELF segment outside guest RAM above 1 MiB")
		}
		if _, err := p.ReadAt(ram[p.Paddr:p.Paddr+p.Filesz], 0); err != nil {
			return 0, fmt.Errorf("ELF segment at %#x: %w", p.Paddr, err)
		}
	}
	return f.Entry, nil
}

// writeBootStructures writes the zero page, the GDT and the page tables
// as bare.c's write_boot_structures does.
func writeBootStructures(ram []byte, cmdline string) error {
	if len(cmdline) >= cmdlineMax {
		return errors.New("command line too long")
	}
	copy(ram[cmdlineAddr:], cmdline+"\x00")
	zp := ram[zeroPage:]
	le.PutUint32(zp[zpCmdlinePtr:], cmdlineAddr)
	for i, e := range [][2]uint64{{0, lowRAMEnd}, {highRAM, uint64(len(ram)) - highRAM}} {
		entry := zp[zpE820Table+20*i:]
		le.PutUint64(entry, e[0])
		le.PutUint64(entry[8:], e[1])
		le.PutUint32(entry[16:], e820RAM)
	}
	zp[zpE820Entries] = 2
	le.PutUint64(ram[gdtAddr+8:], 0x00af9b000000ffff)  // 0x08: 64-bit code
	le.PutUint64(ram[gdtAddr+16:], 0x00cf93000000ffff) // 0x10: flat data
	le.PutUint64(ram[pml4Addr:], pdptAddr|0x3)
	for g := range uint64(4) {
		le.PutUint64(ram[pdptAddr+8*g:], (pdAddr+g*0x1000)|0x3)
	}
	for i := range uint64(4 * 512) {
		le.PutUint64(ram[pdAddr+8*i:], i<<21|0x83)
	}
	return nil
}

// setCPUID gives the vCPU what KVM supports.
func setCPUID(kvm, vcpu int) error {
	buf := make([]byte, cpuidHeader+cpuidMax*cpuidEntry)
	le.PutUint32(buf, cpuidMax)
	if _, err := ioctlBytes(kvm, kvmGetSupportedCPUID, buf); err != nil {
		return fmt.Errorf("KVM_GET_SUPPORTED_CPUID: %w", err)
	}
	if _, err := ioctlBytes(vcpu, kvmSetCPUID2, buf); err != nil {
		return fmt.Errorf("KVM_SET_CPUID2: %w", err)
	}
	return nil
}

// setLongMode puts the vCPU in 64-bit mode at entry with RSI = the zero
// page, as bare.c's set_long_mode does.
func setLongMode(vcpu int, entry uint64) error {
	var s [sregsSize]byte
	if _, err := ioctlBytes(vcpu, kvmGetSregs, s[:]); err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	// struct kvm_segment: base, limit, selector, type, present, dpl, db, s, l, g, avl, unusable.
	segment := func(seg []byte, selector uint16, typ, db, l byte) {
		le.PutUint64(seg, 0)
		le.PutUint32(seg[8:], 0xffffffff)
		le.PutUint16(seg[12:], selector)
		copy(seg[14:], []byte{typ, 1, 0, db, 1, l, 1, 0, 0}) // ..., unusable 0
	}
	segment(s[0:], 0x08, 11, 0, 1)           // cs
	for _, i := range []int{1, 2, 3, 4, 5} { // ds, es, fs, gs, ss
		segment(s[i*segmentSize:], 0x10, 3, 1, 0)
	}
	le.PutUint64(s[sregsGDT:], gdtAddr)
	le.PutUint16(s[sregsGDT+8:], 3*8-1)
	le.PutUint64(s[sregsCR0:], 0x80050033)
	le.PutUint64(s[sregsCR3:], pml4Addr)
	le.PutUint64(s[sregsCR4:], 0x20)
	le.PutUint64(s[sregsEFER:], 0x500)
	if _, err := ioctlBytes(vcpu, kvmSetSregs, s[:]); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	var r [regsSize]byte
	le.PutUint64(r[regsRIP:], entry)
	le.PutUint64(r[regsRSI:], zeroPage)
	le.PutUint64(r[regsRSP:], stackTop)
	le.PutUint64(r[regsRFLAGS:], 2)
	if _, err := ioctlBytes(vcpu, kvmSetRegs, r[:]); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}
	return nil
}
