package i8042_test

import (
	"fmt"

	"github.com/gluevmm/glue/i8042"
)

// The VMM registers the two ports on the port-I/O bus and asks its run loop
// to reset the VM when the guest pulses the reset line, as Linux does on
// reboot with "outb(0xfe, 0x64)".
func Example() {
	c := i8042.New(i8042.Config{
		Reset: func() { fmt.Println("reset requested") },
	})
	data, command := c.DataPort(), c.CommandPort() // bus: 0x60 and 0x64, size 1 each

	var b [1]byte
	command.Write(0, []byte{0xaa}) // controller self test
	command.Read(0, b[:])
	fmt.Printf("status %#02x\n", b[0])
	data.Read(0, b[:])
	fmt.Printf("self test %#02x\n", b[0])

	command.Write(0, []byte{0xfe}) // pulse the reset line
	// Output:
	// status 0x1d
	// self test 0x55
	// reset requested
}
