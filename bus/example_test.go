package bus_test

import (
	"fmt"

	"github.com/gluevmm/glue/bus"
)

// scratch is a one-byte register.
type scratch struct{ v byte }

func (s *scratch) Read(_ uint64, data []byte)  { data[0] = s.v }
func (s *scratch) Write(_ uint64, data []byte) { s.v = data[0] }

// A port-I/O exit is dispatched by address; unclaimed reads are all-ones.
func Example() {
	var pio bus.Bus
	if err := pio.Insert(0x3ff, 1, &scratch{}); err != nil {
		panic(err)
	}
	pio.Write(0x3ff, []byte{42})

	v := make([]byte, 1)
	pio.Read(0x3ff, v)
	fmt.Println(v[0])

	claimed := pio.Read(0x2ff, v)
	fmt.Println(claimed, v[0])
	// Output:
	// 42
	// false 255
}
