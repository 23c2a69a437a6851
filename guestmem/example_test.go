package guestmem_test

import (
	"fmt"

	"github.com/gluevmm/glue/guestmem"
)

// Guest RAM in two regions around a hole; every access is checked.
func Example() {
	mem, err := guestmem.New([]guestmem.Span{
		{Base: 0, Size: 1 << 20},
		{Base: 4 << 20, Size: 1 << 20},
	})
	if err != nil {
		panic(err)
	}
	defer mem.Close()

	mem.WriteU32(0x1000, 0xcafe)
	v, _ := mem.ReadU32(0x1000)
	fmt.Printf("%#x\n", v)

	// The hole between the regions is not RAM.
	err = mem.WriteAt([]byte{1}, 2<<20)
	fmt.Println(err)
	// Output:
	// 0xcafe
	// guest address range outside RAM: 0x200000+0x1
}
