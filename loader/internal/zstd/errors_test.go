package zstd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/gluevmm/glue/loader/loadertest"
	"github.com/klauspost/compress/zstd"
)

// smallFrames are valid frames of every kind of block and table, with
// their content.
func smallFrames(t testing.TB) [][2][]byte {
	var frames [][2][]byte
	add := func(data []byte, o ...zstd.EOption) {
		enc, err := zstd.NewWriter(nil, o...)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, [2][]byte{enc.EncodeAll(data, nil), data})
	}
	add(loadertest.Sample(20, 3000), zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	add(loadertest.Sample(21, 3000), zstd.WithEncoderLevel(zstd.SpeedFastest))
	add(randomData(22, 500))
	add(bytes.Repeat([]byte{7}, 2000))
	add(nil)
	return frames
}

func TestTruncated(t *testing.T) {
	for _, f := range smallFrames(t) {
		for cut := range len(f[0]) {
			if _, err := decode(f[0][:cut:cut]); err == nil {
				t.Fatalf("frame of %d bytes cut to %d: no error", len(f[0]), cut)
			}
		}
	}
}

func TestFlipped(t *testing.T) {
	for _, f := range smallFrames(t) {
		for i := range len(f[0]) {
			for _, mask := range []byte{1, 0x80, 0xff} {
				b := bytes.Clone(f[0])
				b[i] ^= mask
				got, err := decode(b)
				// Every frame has a checksum, so wrong output must
				// be an error.
				if err == nil && !bytes.Equal(got, f[1]) {
					t.Fatalf("byte %d ^ %#x: wrong output and no error", i, mask)
				}
			}
		}
	}
}

func TestChecksum(t *testing.T) {
	data := loadertest.Sample(23, 10000)
	enc, _ := zstd.NewWriter(nil)
	frame := enc.EncodeAll(data, nil)
	frame[len(frame)-1] ^= 1
	if _, err := decode(frame); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("bad checksum: %v", err)
	}
	frame[len(frame)-1] ^= 1
	check(t, "good checksum", frame, data)
	// A frame with a checksum of stored blocks, where content bytes
	// sit in the clear: changing one must fail.
	f := makeFrame(5, []byte("hello"), raw("hello"))
	check(t, "raw with checksum", f, []byte("hello"))
	f[len(f)-6] ^= 0x20
	if _, err := decode(f); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("changed content: %v", err)
	}
}

func TestFrameHeader(t *testing.T) {
	body := []byte{1<<3 | 0<<1 | 1, 0, 0, 'h'} // last raw block "h"
	header := func(desc byte, rest ...byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, frameMagic)
		b = append(b, desc)
		b = append(b, rest...)
		return append(b, body...)
	}
	for _, c := range []struct {
		name  string
		frame []byte
		err   string
	}{
		{"window only", header(0x00, 0x00), ""},
		{"single segment, 1-byte size", header(0x20, 1), ""},
		{"2-byte size", header(0x40, 0, 0xff, 0xfe), "its header says 65535"},
		{"4-byte size", header(0x80, 0, 1, 0, 0, 0), ""},
		{"8-byte size", header(0xc0, 0, 1, 0, 0, 0, 0, 0, 0, 0), ""},
		{"wrong size", header(0x20, 2), "its header says 2"},
		{"dictionary 0", header(0x21, 0, 1), ""},
		{"dictionary 1 byte", header(0x21, 9, 1), "dictionary 0x9"},
		{"dictionary 2 bytes", header(0x02, 0, 1, 2), "dictionary 0x201"},
		{"dictionary 4 bytes", header(0x03, 0, 1, 2, 3, 4), "dictionary 0x4030201"},
		{"reserved bit", header(0x28, 1), "reserved bit"},
		{"reserved block type", append(binary.LittleEndian.AppendUint32(nil, frameMagic), 0x20, 1, 7, 0, 0), "reserved type"},
		// Window 1 KiB + 1/8: a block may hold 1152 bytes, no more.
		{"window mantissa", append(binary.LittleEndian.AppendUint32(nil, frameMagic), append([]byte{0x00, 0x01, 1152<<3&0xff | 1, 1152 >> 5, 0}, make([]byte, 1152)...)...), "long"},
		{"block beyond window", append(binary.LittleEndian.AppendUint32(nil, frameMagic), append([]byte{0x00, 0x01, 1153<<3&0xff | 1, 1153 >> 5, 0}, make([]byte, 1153)...)...), "1153 bytes, more than 1152"},
		{"bad magic", []byte{1, 2, 3, 4, 5, 6}, "no frame magic at offset 0"},
		{"trailing bytes", append(header(0x20, 1), 1, 2), "2 bytes after the frames at offset"},
		{"skippable truncated", skippable(0, []byte("abc"))[:9], "run past the input"},
		{"empty", nil, "no frame"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := decode(c.frame)
			if c.err == "long" {
				if err != nil || len(got) != 1152 {
					t.Fatalf("got %d bytes, %v", len(got), err)
				}
				return
			}
			if c.err == "" {
				if err != nil || string(got) != "h" {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("got %q, %v; want an error with %q", got, err, c.err)
			}
		})
	}
}

func TestLimit(t *testing.T) {
	data := loadertest.Sample(24, 500<<10)
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	withSize := enc.EncodeAll(data, nil)
	cli := zstdCLI(t, data, "-19", "--no-content-size")
	rle := zstdCLI(t, bytes.Repeat([]byte{1}, 500<<10), "-1", "--no-content-size")
	rnd := zstdCLI(t, randomData(25, 500<<10), "-1", "--no-content-size")
	for name, f := range map[string][]byte{"content size": withSize, "compressed blocks": cli, "RLE blocks": rle, "raw blocks": rnd} {
		n := uint64(500 << 10)
		for _, limit := range []uint64{0, 1, n / 2, n - 1} {
			got, err := Decode(context.Background(), f, 0, limit)
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("%s, limit %d: %d bytes, %v; want ErrTooLarge", name, limit, len(got), err)
			}
		}
		if got, err := Decode(context.Background(), f, 1000, n); err != nil || uint64(len(got)) != n {
			t.Errorf("%s, limit %d: %d bytes, %v", name, n, len(got), err)
		}
	}
	// A frame that says it holds 1 TiB fails before allocating.
	huge := binary.LittleEndian.AppendUint32(nil, frameMagic)
	huge = append(huge, 0xc0, 0)
	huge = binary.LittleEndian.AppendUint64(huge, 1<<40)
	huge = append(huge, 1, 0, 0)
	if _, err := Decode(context.Background(), huge, 0, 1<<39); !errors.Is(err, ErrTooLarge) {
		t.Errorf("1 TiB frame: %v", err)
	}
	// The up-front buffer is min(sizeHint, limit).
	small := makeFrame(-1, nil, raw("abc"))
	got, err := Decode(context.Background(), small, 1<<40, 100)
	if err != nil || cap(got) != 100 {
		t.Errorf("cap %d, %v; want 100", cap(got), err)
	}
}

// countdown is a context that ends after its Err was asked n times.
type countdown struct {
	context.Context
	n int
}

func (c *countdown) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

func TestContext(t *testing.T) {
	data := loadertest.Sample(26, 4<<20)
	frame := zstdCLI(t, data, "-3")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Decode(ctx, frame, 0, 1<<30); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	for _, n := range []int{1, 2, 5} {
		if _, err := Decode(&countdown{context.Background(), n}, frame, 0, 1<<30); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled after %d looks: %v", n, err)
		}
	}
	// 4 MiB of output is looked at no fewer than 4 times.
	c := &countdown{context.Background(), 1 << 30}
	if _, err := Decode(c, frame, 0, 1<<30); err != nil {
		t.Fatal(err)
	}
	if looks := 1<<30 - c.n; looks < 5 {
		t.Errorf("ctx looked at %d times for 4 MiB", looks)
	}
}
