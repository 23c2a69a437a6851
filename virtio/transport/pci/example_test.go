package virtiopci_test

import (
	"bytes"
	"fmt"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/rng"
	virtiopci "github.com/gluevmm/glue/virtio/transport/pci"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// printSink stands in for the VMM's KVM GSI routing and irqfds.
type printSink struct{}

func (printSink) Route(v int, m pci.Message) {
	fmt.Printf("VMM: route vector %d to %#x data %#x\n", v, m.Address, m.Data)
}
func (printSink) Signal(v int) { fmt.Printf("VMM: signal vector %d\n", v) }

// The VMM builds the transport with the BAR's address and its MSI-X sink,
// attaches the function to its root, binds an ioeventfd at each queue's
// NotifyAddress and binds it again when the BAR moves. Here virtiotest's
// driver plays the guest through ECAM and the BAR.
func Example() {
	mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 1 << 20}})
	if err != nil {
		panic(err)
	}
	defer mem.Close()

	var tr *virtiopci.Transport
	root, _ := pci.NewRoot(pci.RootConfig{
		Windows:  []pci.Range{{Base: 1 << 40, Size: 1 << 36}},
		Reserved: []pci.Range{{Base: 0, Size: 1 << 20}},
		BARMoved: func(m pci.BARMove) {
			if m.Function == tr.Function() {
				addr, _ := tr.NotifyAddress(0)
				fmt.Printf("VMM: BAR moved to %#x, ioeventfd of queue 0 now at %#x\n", m.New, addr)
			}
		},
	})
	tr, err = virtiopci.New(rng.New(bytes.NewReader(make([]byte, 64))), mem,
		virtiopci.Config{BARAddr: 1 << 40, MSIX: printSink{}}, nil)
	if err != nil {
		panic(err)
	}
	if err := root.Attach(pci.Slot{Device: 1}, tr.Function(), nil); err != nil {
		panic(err)
	}
	addr, _ := tr.NotifyAddress(0)
	fmt.Printf("VMM: ioeventfd of queue 0 at %#x\n", addr)

	guest := &virtiotest.PCIDriver{
		Config:  configWindow{root.ECAM(), pci.Slot{Device: 1}},
		Mem:     memView{tr.Function()},
		UseMSIX: true,
	}
	q := virtiotest.NewQueue(mem, 0x1000, 16)
	if _, err := guest.Init(virtio.FeatureVersion1, q); err != nil {
		panic(err)
	}
	q.AddChain(virtiotest.Writable(8))
	// The ioeventfd fires; the event loop calls NotifyQueue until it
	// returns false.
	for tr.NotifyQueue(0) {
	}
	fmt.Printf("used %d bytes\n", q.Used()[0].Len)

	// The guest moves the BAR (Linux switches decoding off around it).
	guest.ConfigWrite(0x04, 2, 0)
	guest.ConfigWrite(0x14, 4, 0x101)
	guest.ConfigWrite(0x04, 2, 0x6)
	// Output:
	// VMM: ioeventfd of queue 0 at 0x10000003000
	// VMM: route vector 1 to 0xfee00000 data 0x31
	// VMM: signal vector 1
	// used 8 bytes
	// VMM: BAR moved to 0x10100000000, ioeventfd of queue 0 now at 0x10100003000
}
