package pci_test

import (
	"sync"
	"testing"

	"github.com/gluevmm/glue/pci"
)

// TestConcurrentUse runs vCPU-like configuration and MSI-X table accesses
// against device-side Notify and SetINTx calls. Under -race it checks the
// locking; in any mode it checks that nothing deadlocks and that, once all
// masks are lifted, no vector is left pending.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	r := newMSIXRig(t)
	for v := range msixVectors {
		r.program(v, 0xfee0_0000, uint32(0x40+v), false)
	}
	r.setControl(ctrlEnable)
	capOff := r.msixCapOffset(t)
	const rounds = 300
	var wg sync.WaitGroup
	run := func(f func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				f(i)
			}
		}()
	}
	ecam := r.root.ECAM()
	run(func(i int) { // vCPU 0: masks vectors through the BAR
		r.bar2Write(uint64(msixTableOffset+16*(i%msixVectors)+12), 4, uint64(i&1))
	})
	run(func(i int) { // vCPU 1: function mask and bus mastering
		ctl := uint32(ctrlEnable)
		if i&1 != 0 {
			ctl |= ctrlMask
		}
		ecam.Write(uint64(devSlot.Device)<<15|uint64(capOff+2), []byte{byte(ctl), byte(ctl >> 8)})
		cmd := byte(pci.CommandMemory)
		if i&2 == 0 {
			cmd |= pci.CommandBusMaster
		}
		r.write(devSlot, 0x04, 1, uint32(cmd))
	})
	run(func(i int) { // vCPU 2: reads through CF8/CFC
		r.read(devSlot, (i*4)%0x100, 4)
		r.bar2Read(msixPBAOffset, 8)
	})
	run(func(i int) { r.fn.Notify(i % msixVectors) }) // the device side
	run(func(i int) { r.fn.SetINTx(i&1 == 0) })
	wg.Wait()

	r.enable(pci.CommandMemory | pci.CommandBusMaster)
	r.setControl(ctrlEnable)
	for v := range msixVectors {
		r.bar2Write(uint64(msixTableOffset+16*v+12), 4, 0)
	}
	if got := r.pba(); got != 0 {
		t.Fatalf("PBA %#x with every mask lifted", got)
	}
}
