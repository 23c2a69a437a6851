package rtc_test

import (
	"fmt"
	"time"

	"github.com/gluevmm/glue/rtc"
)

// The VMM registers the device on the port-I/O bus at 0x70 with size 2 and
// hands it the host clock and the guest's RAM layout. Here a "guest" reads
// the date and the memory size the way firmware does.
func Example() {
	clock := func() time.Time { return time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC) }
	const mib = 1 << 20
	c := rtc.New(clock, 512*mib, 0)

	read := func(index byte) byte {
		c.Write(0, []byte{0x80 | index}) // index port, NMI stays disabled
		var b [1]byte
		c.Read(1, b[:]) // data port
		return b[0]
	}
	// Register B is 0x02 at power-on: BCD, 24-hour, so %x prints the digits.
	fmt.Printf("%x%02x-%02x-%02x %02x:%02x:%02x\n",
		read(0x32), read(0x09), read(0x08), read(0x07), read(0x04), read(0x02), read(0x00))
	fmt.Println("memory from 16 MiB:", (int(read(0x35))<<8|int(read(0x34)))*64/1024, "MiB")
	// Output:
	// 2026-03-14 15:09:26
	// memory from 16 MiB: 496 MiB
}
