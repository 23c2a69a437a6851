package serial_test

import (
	"bytes"
	"fmt"

	"github.com/gluevmm/glue/serial"
)

// The VMM registers the UART on the port-I/O bus at 0x3f8 (size 8) and
// routes the vCPUs' port exits to it. Here a "guest" prints through the
// transmit register and reads back what the host typed.
func Example() {
	var console bytes.Buffer // the VMM passes a non-blocking writer
	irq := serial.TriggerFunc(func(high bool) {
		fmt.Println("IRQ 4 level:", high) // the VMM calls KVM_IRQ_LINE here
	})
	u := serial.New(&console, irq)

	const thr, ier, fcr, mcr, lsr = 0, 1, 2, 4, 5
	u.Write(fcr, []byte{0x07}) // enable and clear the 16-byte FIFOs
	u.Write(mcr, []byte{0x0b}) // DTR, RTS, OUT2: interrupts reach the bus
	u.Write(ier, []byte{0x01}) // received-data interrupt
	for _, c := range []byte("hi\n") {
		u.Write(thr, []byte{c})
	}
	fmt.Printf("guest printed %q\n", console.String())

	n := u.Enqueue([]byte("ok")) // the host's input goroutine
	fmt.Println("host enqueued", n, "bytes")
	var b [1]byte
	for {
		u.Read(lsr, b[:])
		if b[0]&0x01 == 0 { // data ready
			break
		}
		u.Read(thr, b[:])
		fmt.Printf("guest read %q\n", b[0])
	}
	// Output:
	// guest printed "hi\n"
	// IRQ 4 level: true
	// host enqueued 2 bytes
	// guest read 'o'
	// IRQ 4 level: false
	// guest read 'k'
}
