package virtiopci_test

import (
	"sync"
	"testing"

	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// What other vCPUs and the event loop may do at the same time as a driver
// works never deadlocks or races (run with -race): resets through
// device_status and a new handshake, device configuration reads, ISR reads, MSI-X switched on and off through configuration
// space, vectors rewritten, the PCI_CFG window, BAR notifications and
// NotifyQueue from the event loop. The transport's invariants hold after.
func TestConcurrentAccess(t *testing.T) {
	t.Parallel()
	dev := fuzzDevice()
	r := newRig(t, dev)
	r.drv.UseMSIX = true
	q := virtiotest.NewQueue(r.mem, 0x1000, 16)
	if _, err := r.drv.Init(virtio.FeatureVersion1, q); err != nil {
		t.Fatal(err)
	}
	c := pciCfg(t, r.drv)
	const rounds = 2000
	var wg sync.WaitGroup
	// Each goroutine is its own "vCPU" with its own driver view; they
	// share only the device.
	view := func() *virtiotest.PCIDriver {
		d := *r.drv
		return &d
	}
	for _, work := range []func(d *virtiotest.PCIDriver, i int){
		func(d *virtiotest.PCIDriver, i int) {
			if i%10 == 9 {
				d.Reset()
				d.Init(virtio.FeatureVersion1, q) // may fail halfway: others interfere
			}
			d.MemRead(d.Device.Addr, 4)
		},
		func(d *virtiotest.PCIDriver, _ int) { d.ReadISR() },
		func(d *virtiotest.PCIDriver, i int) {
			ctrl := d.ConfigRead(d.MSIXCap+2, 2) &^ (1 << 15)
			d.ConfigWrite(d.MSIXCap+2, 2, ctrl|uint32(i%2)<<15)
		},
		func(d *virtiotest.PCIDriver, i int) {
			d.MemWrite(r.entry(i%2), 4, 0xfee0_0000|uint64(i%4)<<12)
			d.MemWrite(r.entry(i%2)+12, 4, uint64(i%3&1))
		},
		func(d *virtiotest.PCIDriver, i int) {
			cfgAccess(d, c, 0, virtiotest.PCIConfigMSIXVector, 2)
			d.ConfigWrite(c+16, 2, uint32(i%3))
		},
		func(d *virtiotest.PCIDriver, _ int) { d.Kick(0); r.tr.NotifyQueue(0) },
		func(_ *virtiotest.PCIDriver, i int) { dev.ChangeConfig(0, []byte{byte(i)}) },
	} {
		d := view()
		wg.Go(func() {
			for i := range rounds {
				work(d, i)
			}
		})
	}
	for range rounds {
		q.AddChain(virtiotest.Readable([]byte("ping")), virtiotest.Writable(4))
		r.drv.Kick(0)
	}
	wg.Wait()
	checkInvariants(t, r)
	if act, _ := dev.Counts(); act < 2 {
		t.Fatalf("%d activations: the handshakes did not run against the others", act)
	}
}
