package loader

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/gluevmm/glue/loader/loadertest"
)

// cancelAfter is a context that ends after its Err has said "not yet" n
// times: cancellation in the middle of a decoder's work, at a point the
// test picks without any clock.
type cancelAfter struct {
	context.Context
	left atomic.Int32
}

func newCancelAfter(n int32) *cancelAfter {
	c := &cancelAfter{Context: context.Background()}
	c.left.Store(n)
	return c
}

func (c *cancelAfter) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// A load cancelled while the payload decompresses stops there, with the
// context's error, instead of decompressing the whole kernel first: each
// decoder looks at the context between chunks (lz4: blocks) of its output.
func TestDecompressionStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	// 24 MiB of varied bytes: several decode chunks and lz4 blocks.
	data := make([]byte, 24<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	for _, format := range []string{"gzip", "xz", "zstd", "lz4"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			payload := loadertest.Payload(t, format, data)
			ctx := newCancelAfter(2) // ends after the decoder has started
			out, _, err := decompress(ctx, payload, 64<<20)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("decompress: %d bytes, %v; want context.Canceled", len(out), err)
			}
			if out != nil {
				t.Errorf("returned %d bytes of a cancelled load", len(out))
			}
		})
	}
}

// Options.Context reaches the decompression of a bzImage's payload.
func TestLoadHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mem := newMem(t)
	_, err := Load(mem, testBzImage(t, "gzip", false).Bytes(), Options{Context: ctx})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context: %v", err)
	}
	assertUntouched(t, mem)
}
