package loader

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/gluevmm/glue/loader/loadertest"
	"github.com/gluevmm/glue/test/hosttest"
)

// lz4Sample is loadertest.Sample with what only lz4 needs more of:
// incompressible stretches and runs long enough (more than 15 + 255
// bytes) that literal and match lengths take several extension bytes.
func lz4Sample(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := loadertest.Sample(1, n)
	for at := 0; at+3000 <= len(b); at += 64 << 10 {
		for k := range 1000 {
			b[at+k] = byte(r.Uint32())
		}
		copy(b[at+1000:at+3000], bytes.Repeat([]byte{byte(at)}, 2000))
	}
	return b
}

// TestLZ4AgainstTool decodes what the lz4 command line tool makes with -l,
// the kernel build's format (scripts/Makefile.lib: lz4 -l -9), at its
// fastest and its strongest levels, and a stream over two 8 MiB blocks.
func TestLZ4AgainstTool(t *testing.T) {
	t.Parallel()
	tool := hosttest.LookPath(t, "lz4")
	for _, tc := range []struct {
		level string
		size  int
	}{{"-1", 300 << 10}, {"-9", 300 << 10}, {"-12", 300 << 10}, {"-9", 17 << 20}} {
		want := lz4Sample(tc.size)
		cmd := exec.Command(tool, "-l", tc.level, "-c")
		cmd.Stdin = bytes.NewReader(want)
		stream, err := cmd.Output()
		if err != nil {
			t.Fatalf("lz4 -l %s: %v", tc.level, err)
		}
		got, err := decodeLZ4Legacy(context.Background(), stream, uint64(len(want)), MaxDecompressedSize)
		if err != nil {
			t.Fatalf("lz4 -l %s of %d bytes: %v", tc.level, tc.size, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("lz4 -l %s of %d bytes: decoded %d bytes that differ from the input", tc.level, tc.size, len(got))
		}
	}
}

// lz4Stream is a legacy stream of the given blocks.
func lz4Stream(blocks ...[]byte) []byte {
	s := binary.LittleEndian.AppendUint32(nil, lz4LegacyMagic)
	for _, b := range blocks {
		s = binary.LittleEndian.AppendUint32(s, uint32(len(b)))
		s = append(s, b...)
	}
	return s
}

func TestLZ4Blocks(t *testing.T) {
	t.Parallel()
	long := append([]byte{0xf0, 255, 255, 2}, bytes.Repeat([]byte("x"), 15+255+255+2)...)
	for _, tc := range []struct {
		name   string
		stream []byte
		limit  uint64
		want   string // decoded; "" when err is set
		err    error
	}{
		{"literals only", lz4Stream([]byte("\x50hello")), 100, "hello", nil},
		{"overlapping match", lz4Stream([]byte("\x24ab\x02\x00\x10c")), 100, "abababababc", nil},
		{"match of one byte, extended", lz4Stream([]byte("\x1fa\x01\x00\x02\x10z")), 100, "a" + strings.Repeat("a", 4+15+2) + "z", nil},
		{"extended literal length", lz4Stream(long), 1000, strings.Repeat("x", 15+255+255+2), nil},
		{"two blocks, two streams", append(lz4Stream([]byte("\x10a")), lz4Stream([]byte("\x10b"))...), 100, "ab", nil},
		{"match into the previous block", lz4Stream([]byte("\x10a"), []byte("\x10b\x02\x00\x00")), 100, "", ErrCorruptPayload},
		{"offset zero", lz4Stream([]byte("\x10a\x00\x00\x00")), 100, "", ErrCorruptPayload},
		{"offset cut short", lz4Stream([]byte("\x10a\x01")), 100, "", ErrCorruptPayload},
		{"literals past the block", lz4Stream([]byte("\x50hell")), 100, "", ErrCorruptPayload},
		{"length cut short", lz4Stream([]byte("\xf0\xff")), 100, "", ErrCorruptPayload},
		{"block ends after a match", lz4Stream([]byte("\x10a\x01\x00")), 100, "", ErrCorruptPayload},
		{"literals beyond the limit", lz4Stream([]byte("\x50hello")), 4, "", ErrPayloadTooLarge},
		{"match beyond the limit", lz4Stream([]byte("\x1fa\x01\x00\x02\x10z")), 10, "", ErrPayloadTooLarge},
		{"block size beyond the stream", append(binary.LittleEndian.AppendUint32(nil, lz4LegacyMagic), 9, 0, 0, 0, 0x10), 100, "", ErrCorruptPayload},
		{"stray bytes", append(lz4Stream([]byte("\x10a")), 1, 2), 100, "", ErrCorruptPayload},
	} {
		got, err := decodeLZ4Legacy(context.Background(), tc.stream, 0, tc.limit)
		if !errors.Is(err, tc.err) || (err == nil && string(got) != tc.want) {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// TestLZ4BlockSize holds each block to the 8 MiB the kernel's decompressor
// gives it: a block that decodes to more is corrupt, not merely large.
func TestLZ4BlockSize(t *testing.T) {
	t.Parallel()
	// One literal, then a match of one byte back repeated to 8 MiB + 1.
	n := lz4LegacyBlockSize + 1 - 1 - 4 - 15
	var block []byte
	block = append(block, 0x1f, 'a', 1, 0)
	for ; n >= 255; n -= 255 {
		block = append(block, 255)
	}
	block = append(block, byte(n), 0x00)
	_, err := decodeLZ4Legacy(context.Background(), lz4Stream(block), 0, MaxDecompressedSize)
	if !errors.Is(err, ErrCorruptPayload) {
		t.Errorf("a block of 8 MiB + 1: got %v, want ErrCorruptPayload", err)
	}
	block[len(block)-2]-- // exactly 8 MiB, then the empty last sequence
	got, err := decodeLZ4Legacy(context.Background(), lz4Stream(block), 0, MaxDecompressedSize)
	if err != nil || len(got) != lz4LegacyBlockSize {
		t.Errorf("a block of 8 MiB: got %d bytes, %v", len(got), err)
	}
}

// TestLZ4BombAllocatesNothing gives a block of one literal and an 8 MiB
// match a limit of 100 bytes: it is refused before the match is copied.
func TestLZ4BombAllocatesNothing(t *testing.T) {
	block := []byte{0x1f, 'a', 1, 0}
	for n := lz4LegacyBlockSize - 1 - 4 - 15; n > 0; n -= min(n, 255) {
		block = append(block, byte(min(n, 255)))
	}
	block = append(block, 0, 0x10, 'z')
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decodeLZ4Legacy(context.Background(), lz4Stream(block), 0, 100)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("got %v, want ErrPayloadTooLarge", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("decoding allocated %d bytes for a limit of 100", grew)
	}
}

func FuzzLZ4(f *testing.F) {
	f.Add([]byte("\x1fa\x01\x00\x02\x10z"))
	f.Add([]byte("\x24ab\x02\x00\x10c"))
	f.Add(loadertestLZ4Block(f))
	f.Fuzz(func(t *testing.T, block []byte) {
		out, err := decodeLZ4Legacy(context.Background(), lz4Stream(block), 0, 1<<16)
		if err == nil && len(out) > 1<<16 {
			t.Fatalf("decoded %d bytes past the limit", len(out))
		}
	})
}

// loadertestLZ4Block is the first block of another encoder's stream.
func loadertestLZ4Block(tb testing.TB) []byte {
	stream := loadertest.LZ4Legacy(tb, lz4Sample(4096))
	return stream[8 : 8+binary.LittleEndian.Uint32(stream[4:])]
}
