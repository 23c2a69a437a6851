package sha256_test

import (
	"fmt"

	"github.com/gluevmm/glue/internal/sha256"
)

func Example() {
	fmt.Printf("%x\n", sha256.Sum256([]byte("abc")))
	// Output: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
}
