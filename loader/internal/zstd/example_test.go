package zstd_test

import (
	"context"
	"fmt"

	"github.com/gluevmm/glue/loader/internal/zstd"
)

// A bzImage's zstd payload decodes into one buffer: the size trailer the
// kernel build appends gives the size hint, and the limit bounds what a
// bad image can make glue allocate.
func Example() {
	// What `printf 'hello, glue\n' | zstd` writes: a frame of one raw
	// block, with a content size and a checksum.
	payload := []byte{
		0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x61, 0x00, 0x00,
		'h', 'e', 'l', 'l', 'o', ',', ' ', 'g', 'l', 'u', 'e', '\n',
		0x3d, 0x49, 0x16, 0x17,
	}
	out, err := zstd.Decode(context.Background(), payload, 12, 64<<20)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q\n", out)
	// Output: "hello, glue\n"
}
