package hostrandom

import (
	"bytes"
	"testing"
)

// Read fills the whole buffer: a buffer left partly zero, or two reads
// giving the same bytes, means the bytes do not come from the pool.
func TestReadFillsAndDiffers(t *testing.T) {
	for _, size := range []int{1, 16, 4096, 33 << 20} { // the last is over getrandom's 32 MiB per call
		a, b := make([]byte, size), make([]byte, size)
		if n, err := Reader.Read(a); n != size || err != nil {
			t.Fatalf("Read(%d bytes) = %d, %v", size, n, err)
		}
		if _, err := Reader.Read(b); err != nil {
			t.Fatal(err)
		}
		if size >= 16 && bytes.Equal(a, b) {
			t.Errorf("two reads of %d bytes gave the same bytes", size)
		}
		if tail := a[len(a)-min(len(a), 64):]; size >= 64 && bytes.Count(tail, []byte{0}) == len(tail) {
			t.Errorf("the last 64 of %d bytes are all zero: the buffer was not filled", size)
		}
	}
}
