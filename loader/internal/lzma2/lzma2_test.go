package lzma2

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/gluevmm/glue/loader/loadertest"
	"github.com/gluevmm/glue/test/hosttest"
	"github.com/ulikunitz/xz/lzma"
)

// xzRaw compresses data to raw LZMA2 with the xz tool and the given
// --lzma2 options.
func xzRaw(t *testing.T, data []byte, options string) []byte {
	t.Helper()
	xz := hosttest.LookPath(t, "xz")
	cmd := exec.Command(xz, "--format=raw", "--stdout", "--lzma2="+options)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz --lzma2=%s: %v", options, err)
	}
	return out
}

// decodeAll scans src and decodes it into a buffer of the size Scan gives.
func decodeAll(src []byte, dictSize uint64) ([]byte, error) {
	packed, unpacked, err := Scan(src)
	if err != nil {
		return nil, err
	}
	if packed != len(src) {
		return nil, errors.New("data after the end marker")
	}
	dst := make([]byte, unpacked)
	return dst, Decode(context.Background(), dst, src, dictSize)
}

// The xz tool is the oracle: every combination of the LZMA properties,
// dictionary sizes, and input that makes it emit uncompressed chunks
// (noise), chunks without state reset (more than 2 MiB) and overlapping
// matches (runs) must decode to the input.
func TestDecodeXZUtils(t *testing.T) {
	t.Parallel()
	inputs := map[string][]byte{
		"empty":  nil,
		"byte":   {42},
		"mixed":  loadertest.Sample(1, 300_000),
		"large":  loadertest.Sample(2, 5<<20),
		"zeros":  make([]byte, 3<<20),
		"noise":  noise(200_000),
		"period": bytes.Repeat([]byte("abcdefg"), 50_000),
	}
	options := []string{
		"preset=6",
		"preset=0",
		"preset=9e",
		"lc=0,lp=0,pb=0",
		"lc=4,lp=0,pb=4",
		"lc=0,lp=4,pb=2",
		"lc=1,lp=3,pb=1",
		"dict=4KiB",
		"dict=64KiB,nice=273,mf=bt4",
	}
	for name, data := range inputs {
		for _, opt := range options {
			if name == "large" && opt != "preset=6" && opt != "preset=0" {
				continue // the large input is for chunking, which the options do not change
			}
			src := xzRaw(t, data, opt)
			got, err := decodeAll(src, 64<<20)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s, --lzma2=%s: decoded %d of %d bytes, err %v", name, opt, len(got), len(data), err)
			}
		}
	}
}

func TestDecodeUlikunitz(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 1, 100, 70_000, 3 << 20} {
		data := loadertest.Sample(uint64(size), size)
		got, err := decodeAll(loadertest.LZMA2(t, data, 1<<20), 1<<20)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("size %d: decoded %d bytes, err %v", size, len(got), err)
		}
	}
}

// A match reaching further back than the dictionary size is refused,
// even though the bytes are there in the output.
func TestDecodeDistanceBeyondDictionary(t *testing.T) {
	t.Parallel()
	block := loadertest.Sample(7, 8192)
	data := append(append(append([]byte{}, block...), loadertest.Sample(8, 40_000)...), block...)
	src := xzRaw(t, data, "dict=64KiB")
	if _, err := decodeAll(src, 64<<10); err != nil {
		t.Fatalf("with the stream's own dictionary size: %v", err)
	}
	if _, err := decodeAll(src, 16<<10); !errors.Is(err, errDistance) {
		t.Fatalf("with a 16 KiB dictionary: err %v, want %v", err, errDistance)
	}
}

// chunkHeaders returns the offsets of src's chunk headers.
func chunkHeaders(t *testing.T, src []byte) []int {
	t.Helper()
	var offsets []int
	for pos := 0; ; {
		h, err := parseHeader(src[pos:])
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, pos)
		if h.end {
			return offsets
		}
		pos += h.size + h.packed
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	data := loadertest.Sample(9, 100_000)
	valid := xzRaw(t, data, "preset=6")
	first := chunkHeaders(t, valid)[0]
	h, _ := parseHeader(valid[first:])
	if !h.lzma || !h.dictReset {
		t.Fatalf("xz's first chunk is %+v, want an LZMA chunk that resets the dictionary", h)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	setControl := func(c byte) []byte { return edit(func(b []byte) []byte { b[0] = b[0]&0x1f | c; return b }) }
	// A stored chunk of 16 zeros that resets the dictionary, then valid's
	// LZMA chunk: 16 keeps the position bits and a zero the previous byte
	// of its first literal as the encoder had them.
	afterStored := func(control byte) []byte {
		b := append([]byte{0x01, 0x00, 15}, make([]byte, 16)...)
		c := bytes.Clone(valid)
		c[0] = c[0]&0x1f | control
		if control&0x40 == 0 { // no properties byte: drop it
			c = append(c[:5], c[6:]...)
		}
		return append(b, c...)
	}
	tests := []struct {
		name string
		src  []byte
		dst  int // output size, if not the data's
		want string
	}{
		{"no end marker", valid[:len(valid)-1], 0, "no end marker"},
		{"invalid control byte", append([]byte{0x03}, valid...), 0, "invalid control byte"},
		{"truncated header", valid[:3], 0, "truncated"},
		{"first chunk keeps the dictionary", setControl(0xc0), 0, "does not reset the dictionary"},
		{"stored first chunk keeps the dictionary", append([]byte{0x02, 0x00, 0x00, 'a'}, valid...), 0, "does not reset the dictionary"},
		{"no properties after a reset", afterStored(0xa0), len(data) + 16, "no properties"},
		{"properties out of range", edit(func(b []byte) []byte { b[5] = 225; return b }), 0, "invalid properties"},
		{"lc+lp above 4", edit(func(b []byte) []byte { b[5] = 2*9 + 3; return b }), 0, "invalid properties"},
		{"bad range coder start", edit(func(b []byte) []byte { b[6] = 1; return b }), 0, "bad range coder start"},
		{"chunk data past the end", edit(func(b []byte) []byte { return b[:len(b)/2] }), 0, "runs past the data"},
		{"output larger than the chunks", valid, len(data) + 1, "data ends"},
		{"output smaller than the chunks", valid, len(data) - 1, "runs past the data"},
		{"garbage after the end marker", append(bytes.Clone(valid), 0), 0, "data ends"},
	}
	for _, tt := range tests {
		n := tt.dst
		if n == 0 {
			n = len(data)
		}
		err := Decode(context.Background(), make([]byte, n), tt.src, 64<<20)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want one saying %q", tt.name, err, tt.want)
		}
	}
	if got, err := decodeAll(afterStored(0xc0), 64<<20); err != nil || !bytes.Equal(got, append(make([]byte, 16), data...)) {
		t.Errorf("stored chunk then LZMA chunk with properties: %d bytes, err %v", len(got), err)
	}
}

// An LZMA chunk whose range-coded data goes on past the point where the
// chunk's output is complete (an extra byte here) is corrupt.
func TestDecodeRangeCoderEnd(t *testing.T) {
	t.Parallel()
	data := loadertest.Sample(11, 5000)
	src := xzRaw(t, data, "preset=6")
	h, _ := parseHeader(src)
	if len(chunkHeaders(t, src)) != 2 {
		t.Fatalf("want one chunk and the end marker")
	}
	longer := append(bytes.Clone(src[:h.size+h.packed]), 0, 0)
	binary.BigEndian.PutUint16(longer[3:], uint16(h.packed)) // packed size + 1
	longer[len(longer)-1] = 0                                // the end marker
	err := Decode(context.Background(), make([]byte, len(data)), longer, 64<<20)
	if err == nil || !strings.Contains(err.Error(), "range coder does not end") {
		t.Fatalf("an extra byte: err %v", err)
	}
	// The last bytes are the encoder's flush: for most other values of
	// the last one the output still comes out whole, but the code does not
	// end at zero.
	for x := 1; x < 256; x++ {
		changed := bytes.Clone(src)
		changed[h.size+h.packed-1] ^= byte(x)
		if err := Decode(context.Background(), make([]byte, len(data)), changed, 64<<20); err == nil {
			t.Fatalf("last byte %#02x: decoded without error", changed[h.size+h.packed-1])
		}
	}
}

// A dictionary reset in the middle of the data forgets what came before:
// no match may reach back past it. xz stores the start of noise in an
// uncompressed chunk and codes the rest, and a repeat of the start, in an
// LZMA chunk; making that chunk reset the dictionary puts the repeat's
// matches behind the reset.
func TestDecodeMatchPastDictionaryReset(t *testing.T) {
	t.Parallel()
	n := noise(100_000)
	data := append(bytes.Clone(n), n[:20_000]...)
	src := xzRaw(t, data, "preset=6")
	if got, err := decodeAll(src, 64<<20); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decoded %d of %d bytes, err %v", len(got), len(data), err)
	}
	offsets := chunkHeaders(t, src)
	if len(offsets) != 3 || src[offsets[0]] != 0x01 || src[offsets[1]]&0xe0 != 0xc0 {
		t.Fatalf("xz cut the data into chunks % x, want stored, then LZMA with properties", func() (c []byte) {
			for _, o := range offsets {
				c = append(c, src[o])
			}
			return c
		}())
	}
	reset := bytes.Clone(src)
	reset[offsets[1]] |= 0xe0
	if _, err := decodeAll(reset, 64<<20); !errors.Is(err, errDistance) {
		t.Fatalf("err %v, want %v", err, errDistance)
	}
}

func TestDecodeStopsWithContext(t *testing.T) {
	t.Parallel()
	data := loadertest.Sample(12, 5<<20)
	src := xzRaw(t, data, "preset=0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Decode(ctx, make([]byte, len(data)), src, 64<<20); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want %v", err, context.Canceled)
	}
}

func TestScan(t *testing.T) {
	t.Parallel()
	data := loadertest.Sample(13, 3<<20)
	src := xzRaw(t, data, "preset=0")
	packed, unpacked, err := Scan(append(bytes.Clone(src), 1, 2, 3))
	if err != nil || packed != len(src) || unpacked != uint64(len(data)) {
		t.Fatalf("Scan = %d, %d, %v; want %d, %d", packed, unpacked, err, len(src), len(data))
	}
	if _, _, err := Scan(src[:len(src)-1]); err == nil {
		t.Fatal("Scan accepted data without an end marker")
	}
}

// FuzzDecode: no input panics, reads or writes outside its buffers, and
// what decodes equals what github.com/ulikunitz/xz decodes from it.
func FuzzDecode(f *testing.F) {
	f.Add(loadertest.LZMA2(f, loadertest.Sample(1, 3000), 4096), uint32(4096))
	f.Add(loadertest.LZMA2(f, make([]byte, 5000), 4096), uint32(4096))
	f.Add([]byte{0x01, 0x00, 0x02, 'a', 'b', 'c', 0x00}, uint32(4096))
	f.Fuzz(func(t *testing.T, src []byte, dictSize uint32) {
		packed, unpacked, err := Scan(src)
		if err != nil || unpacked > 1<<20 {
			return
		}
		src = src[:packed]
		dst := make([]byte, unpacked)
		if err := Decode(context.Background(), dst, src, uint64(dictSize)); err != nil {
			return
		}
		r, err := lzma.Reader2Config{DictCap: int(max(min(uint64(dictSize), unpacked), lzma.MinDictCap))}.NewReader2(bytes.NewReader(src))
		if err != nil {
			return
		}
		var want bytes.Buffer
		if _, err := want.ReadFrom(r); err == nil && !bytes.Equal(dst, want.Bytes()) {
			t.Fatalf("decoded %d bytes that differ from ulikunitz/xz's %d", len(dst), want.Len())
		}
	})
}

// noise is n incompressible bytes, which the encoder stores uncompressed.
func noise(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{3}).Read(b)
	return b
}

// After a dictionary reset the first literal's previous byte is zero, not
// the last byte before the reset.
func TestDecodeLiteralAfterDictionaryReset(t *testing.T) {
	t.Parallel()
	data := loadertest.Sample(16, 20_000)
	stored := append([]byte{0x01, 0x00, 15}, bytes.Repeat([]byte{0xff}, 16)...)
	got, err := decodeAll(append(stored, xzRaw(t, data, "preset=6")...), 64<<20)
	if err != nil || !bytes.Equal(got, append(bytes.Repeat([]byte{0xff}, 16), data...)) {
		t.Fatalf("decoded %d bytes, err %v", len(got), err)
	}
}
