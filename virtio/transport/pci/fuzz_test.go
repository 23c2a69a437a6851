package virtiopci_test

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/test/hosttest"
	"github.com/gluevmm/glue/virtio"
	virtiopci "github.com/gluevmm/glue/virtio/transport/pci"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// Fuzz operations, 8 bytes each: op, offset (u16 LE), width, value (u32 LE).
const (
	opConfigRead  = iota // configuration space at offset&0xfff, 1<<(width&3) bytes
	opConfigWrite        // same, value's bytes
	opBARRead            // the BAR at its current mapping, offset into it
	opBARWrite           // same, value's bytes
	opRAMWrite           // guest writes value to RAM at 4*(offset&0x3fff)
	opNotifyQueue        // NotifyQueue(int(int8(value))), as an event loop
	numOps
)

const fuzzRAM = 1 << 16

var fuzzMem = virtiotest.FuzzMemory{Spans: []guestmem.Span{{Base: 0, Size: fuzzRAM}}}

// fuzzDevice is an echo device with two queues and configuration space, so
// that every structure of the BAR is there.
func fuzzDevice() *virtiotest.EchoDevice {
	d := &virtiotest.EchoDevice{MaxSizes: []uint16{16, 16}}
	d.SetConfig(make([]byte, 8))
	return d
}

// FuzzPCIRegisters drives a virtio-pci function with arbitrary
// configuration accesses (through ECAM, so also the capabilities, MSI-X
// control and BAR registers), BAR accesses (common configuration, ISR,
// device configuration, notifications, MSI-X table and PBA), guest writes
// to RAM where rings and buffers lie, and event-loop notifications. After
// every step it checks: no panic; the status never shows a bit without its
// predecessors unless FAILED; the ISR holds only bits 0 and 1; INTx is
// requested, and the line high, only while the ISR is non-zero; every MSI-X
// vector the transport holds is in the table or NO_VECTOR, and only table
// vectors are signalled; NotifyAddress follows the BAR's mapping. Seeds in
// testdata/fuzz/FuzzPCIRegisters are recorded from virtiotest's driver
// (TestWriteFuzzCorpus).
func FuzzPCIRegisters(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 8*4096 {
			return
		}
		mem := fuzzMem.Get(t)
		r := &rig{mem: mem, sink: &sink{}, line: &line{}}
		tr, err := virtiopci.New(fuzzDevice(), mem, virtiopci.Config{BARAddr: barAddr, MSIX: r.sink}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.attach(t, tr)
		cfg := configWindow{r.root.ECAM(), rigSlot}
		bar := tr.Function().BARRegion(virtiopci.BAR)
		for ; len(ops) >= 8; ops = ops[8:] {
			off := uint64(binary.LittleEndian.Uint16(ops[1:]))
			data := make([]byte, 8)
			copy(data, ops[4:8])
			data = data[:1<<(ops[3]&3)]
			switch ops[0] % numOps {
			case opConfigRead:
				cfg.Read(off&0xfff, data)
			case opConfigWrite:
				cfg.Write(off&0xfff, data)
			case opBARRead:
				bar.Read(off, data)
			case opBARWrite:
				bar.Write(off, data)
			case opRAMWrite:
				mem.WriteAt(ops[4:8], guestmem.Addr(4*(off&0x3fff)))
			case opNotifyQueue:
				tr.NotifyQueue(int(int8(ops[4])))
			}
			checkInvariants(t, r)
		}
	})
}

func checkInvariants(t *testing.T, r *rig) {
	t.Helper()
	tr := r.tr
	if s := virtiopci.PeekStatus(tr); s&virtio.StatusFailed == 0 {
		for _, dep := range [][2]uint8{
			{virtio.StatusDriverOK, virtio.StatusFeaturesOK},
			{virtio.StatusFeaturesOK, virtio.StatusDriver},
			{virtio.StatusDriver, virtio.StatusAcknowledge},
		} {
			if s&dep[0] != 0 && s&dep[1] == 0 {
				t.Fatalf("status %#x has %#x without %#x", s, dep[0], dep[1])
			}
		}
	}
	isr := virtiopci.PeekISR(tr)
	if isr&^3 != 0 {
		t.Fatalf("ISR %#x has undefined bits", isr)
	}
	var st [2]byte
	r.root.ReadConfig(rigSlot, 0x06, st[:])
	high, _ := r.line.state()
	if (st[0]&0x08 != 0 || high) && isr == 0 {
		t.Fatalf("INTx requested (status %#x, line %v) with the ISR clear", st[0], high)
	}
	vectors := tr.NumQueues() + 1
	cv, qv := virtiopci.PeekVectors(tr)
	for _, v := range append(qv, cv) {
		if v != virtiopci.NoVector && int(v) >= vectors {
			t.Fatalf("vector %#x held, table has %d", v, vectors)
		}
	}
	for _, v := range r.sink.take() {
		if v < 0 || v >= vectors {
			t.Fatalf("vector %d signalled, table has %d", v, vectors)
		}
	}
	base, _ := tr.Function().BARAddress(virtiopci.BAR)
	for i := range tr.NumQueues() {
		if a, ok := tr.NotifyAddress(i); !ok || a != base+virtiopci.NotifyOffset+uint64(i)*virtiopci.NotifyMultiplier {
			t.Fatalf("queue %d: NotifyAddress %#x %v with the BAR at %#x", i, a, ok, base)
		}
	}
}

var writeFuzzCorpus = flag.Bool("write-fuzz-corpus", false, "regenerate testdata/fuzz/FuzzPCIRegisters")

// recorder turns a driver's accesses into fuzz operations while passing
// them on: configuration accesses by register, memory accesses by offset
// into the BAR's current mapping.
type recorder struct {
	cfg configWindow
	mem memView
	ops []byte
}

func (rc *recorder) add(op byte, off uint64, data []byte) {
	w := map[int]byte{1: 0, 2: 1, 4: 2, 8: 3}[len(data)]
	var e [8]byte
	e[0] = op
	binary.LittleEndian.PutUint16(e[1:], uint16(off))
	e[3] = w
	copy(e[4:], data)
	rc.ops = append(rc.ops, e[:]...)
}

type recCfg struct{ *recorder }

func (c recCfg) Read(off uint64, data []byte) { c.add(opConfigRead, off, data); c.cfg.Read(off, data) }
func (c recCfg) Write(off uint64, data []byte) {
	c.add(opConfigWrite, off, data)
	c.cfg.Write(off, data)
}

type recMem struct{ *recorder }

func (m recMem) rel(addr uint64) uint64 {
	base, _ := m.mem.fn.BARAddress(virtiopci.BAR)
	return addr - base
}
func (m recMem) Read(addr uint64, data []byte) {
	m.add(opBARRead, m.rel(addr), data)
	m.mem.Read(addr, data)
}
func (m recMem) Write(addr uint64, data []byte) {
	m.add(opBARWrite, m.rel(addr), data)
	m.mem.Write(addr, data)
}

// ram records the nonzero dwords of the first 16 KiB of RAM (rings and
// buffers) as guest writes.
func (rc *recorder) ram(mem *guestmem.Memory) {
	b := make([]byte, 0x4000)
	if err := mem.ReadAt(b, 0); err != nil {
		panic(err)
	}
	for a := 0; a < len(b); a += 4 {
		if binary.LittleEndian.Uint32(b[a:]) != 0 {
			rc.add(opRAMWrite, uint64(a/4), b[a:a+4])
		}
	}
}

// TestWriteFuzzCorpus records the seed corpus from virtiotest's driver:
// go test ./virtio/transport/pci -run TestWriteFuzzCorpus -args -write-fuzz-corpus
func TestWriteFuzzCorpus(t *testing.T) {
	if !*writeFuzzCorpus {
		hosttest.Skip(t, hosttest.ReasonRegenerate, "run with -args -write-fuzz-corpus to regenerate testdata/fuzz")
	}
	seeds := map[string]func(rc *recorder, d *virtiotest.PCIDriver, mem *guestmem.Memory){
		"linux_probe_and_request_msix": func(rc *recorder, d *virtiotest.PCIDriver, mem *guestmem.Memory) {
			d.UseMSIX = true
			request(t, rc, d, mem)
		},
		"linux_probe_and_request_intx": func(rc *recorder, d *virtiotest.PCIDriver, mem *guestmem.Memory) {
			request(t, rc, d, mem)
			d.ReadISR()
		},
		"reset_mid_request": func(rc *recorder, d *virtiotest.PCIDriver, mem *guestmem.Memory) {
			request(t, rc, d, mem)
			d.Reset()
			d.ReadISR()
		},
		"masked_vector_then_unmask": func(rc *recorder, d *virtiotest.PCIDriver, mem *guestmem.Memory) {
			d.UseMSIX = true
			request(t, rc, d, mem)
			base, _ := rc.mem.fn.BARAddress(virtiopci.BAR)
			d.MemWrite(base+virtiopci.MSIXTableOffset+16+12, 4, 1)
			d.Kick(0)
			d.MemRead(base+virtiopci.MSIXPBAOffset, 8)
			d.MemWrite(base+virtiopci.MSIXTableOffset+16+12, 4, 0)
		},
		"bar_move": func(rc *recorder, d *virtiotest.PCIDriver, mem *guestmem.Memory) {
			request(t, rc, d, mem)
			d.ConfigWrite(0x04, 2, 0x4)
			d.ConfigWrite(0x14, 4, uint32(barAddr>>32)+1)
			d.ConfigWrite(0x04, 2, 0x6)
			if err := d.Probe(); err != nil {
				t.Fatal(err)
			}
			d.Kick(0)
		},
		"pci_cfg_window": func(rc *recorder, d *virtiotest.PCIDriver, mem *guestmem.Memory) {
			c := pciCfg(t, d)
			for _, sel := range [][3]uint32{{0, virtiotest.PCINumQueues, 2}, {0, virtiotest.PCIDeviceStatus, 1}, {0, virtiopci.DeviceOffset, 4}, {1, 0, 3}} {
				cfgAccess(d, c, sel[0], sel[1], sel[2])
				d.ConfigRead(c+16, 4)
				d.ConfigWrite(c+16, 1, 1)
			}
		},
		"widths_and_offsets": func(rc *recorder, d *virtiotest.PCIDriver, mem *guestmem.Memory) {
			if err := d.Probe(); err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{1, 2, 4, 8} {
				for _, off := range []uint64{0, 1, 0x12, 0x13, 0x1a, 0x24, 0x37, 0x38, 0x1000, 0x2006, 0x3000, 0x3002, 0x4000, 0xa000, 0xfffc} {
					d.MemRead(barAddr+off, n)
					d.MemWrite(barAddr+off, n, 0xffffffff)
				}
			}
		},
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzPCIRegisters")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, seed := range seeds {
		mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: fuzzRAM})
		r := &rig{mem: mem, sink: &sink{}, line: &line{}}
		tr, err := virtiopci.New(fuzzDevice(), mem, virtiopci.Config{BARAddr: barAddr, MSIX: r.sink}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.attach(t, tr)
		rc := &recorder{cfg: configWindow{r.root.ECAM(), rigSlot}, mem: memView{tr.Function()}}
		seed(rc, &virtiotest.PCIDriver{Config: recCfg{rc}, Mem: recMem{rc}}, mem)
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", rc.ops)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// request runs the handshake with one queue and completes an echo request:
// the rings' contents become RAM writes before the kick.
func request(t *testing.T, rc *recorder, d *virtiotest.PCIDriver, mem *guestmem.Memory) {
	t.Helper()
	q := virtiotest.NewQueue(mem, 0x1000, 16)
	if _, err := d.Init(virtio.FeatureVersion1|virtio.FeatureRingEventIdx, q); err != nil {
		t.Fatal(err)
	}
	q.AddChain(virtiotest.Readable([]byte("ping")), virtiotest.Writable(4))
	rc.ram(mem)
	d.Kick(0)
	if len(q.Used()) != 1 {
		t.Fatal("seed request not completed")
	}
}
