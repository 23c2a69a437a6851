package hostrandom_test

import (
	"fmt"

	"github.com/gluevmm/glue/internal/hostrandom"
)

// Reader is an io.Reader, so it can feed anything that takes one, such as
// virtio/rng.New.
func Example() {
	var key [16]byte
	n, err := hostrandom.Reader.Read(key[:])
	fmt.Println(n, err)
	// Output: 16 <nil>
}
