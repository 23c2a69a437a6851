package zstd

import (
	"bytes"
	"context"
	"testing"

	"github.com/gluevmm/glue/loader/loadertest"
	"github.com/klauspost/compress/zstd"
)

// FuzzDecode decodes arbitrary input under a small limit: it must not
// panic, and what it decodes klauspost's decoder must decode the same.
func FuzzDecode(f *testing.F) {
	for _, fr := range smallFrames(f) {
		f.Add(fr[0])
	}
	f.Add(makeFrame(-1, nil, seqBlock([]byte("abcdefgh"), 2, 8, 2, 0, 0)))
	f.Add(makeFrame(-1, nil, huffBlock([]byte{0, 1, 2, 2, 1, 0, 0, 1, 2, 0}, true, true)))
	f.Add(makeFrame(5, []byte("hello"), raw("hello")))
	f.Add(skippable(3, []byte("skip")))
	// Without checksums, so that changed data decodes to something to
	// compare.
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedBestCompression} {
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderCRC(false))
		f.Add(enc.EncodeAll(loadertest.Sample(27, 2000), nil))
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<20))
	if err != nil {
		f.Fatal(err)
	}
	defer func(n int) { pipeMin = n }(pipeMin)
	f.Fuzz(func(t *testing.T, src []byte) {
		// Half the inputs decode in two goroutines from the start.
		pipeMin = 1 << 20
		if len(src)%2 == 1 {
			pipeMin = 0
		}
		got, err := Decode(context.Background(), src, 0, 1<<20)
		if err != nil {
			return
		}
		if len(got) > 1<<20 {
			t.Fatalf("%d bytes past the limit", len(got))
		}
		// Where klauspost's decoder accepts the input too, the
		// output must agree.
		if want, err := dec.DecodeAll(src, nil); err == nil && !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, klauspost %d", len(got), len(want))
		}
	})
}
