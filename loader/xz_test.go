package loader

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gluevmm/glue/loader/loadertest"
	"github.com/gluevmm/glue/test/hosttest"
)

var writeXZTestdata = flag.Bool("write-xz-testdata", false, "regenerate testdata/xz/*.xz with the xz tool")

// x86LikeData returns size deterministic bytes that look enough like x86
// code for the BCJ filter to matter: CALLs and JMPs with rel32 operands to a
// few dozen targets, between runs of common opcode bytes.
func x86LikeData(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x676c7565))
	targets := make([]int, 40)
	for i := range targets {
		targets[i] = rng.IntN(size + 1)
	}
	filler := []byte{0x48, 0x89, 0x8b, 0xc3, 0x55, 0x5d, 0x0f, 0x31, 0xc0, 0x83, 0xec, 0x08, 0x00, 0xff, 0xe8, 0x90}
	b := make([]byte, 0, size+8)
	for len(b) < size {
		switch r := rng.IntN(10); {
		case r < 3:
			op := byte(0xe8)
			if r == 0 {
				op = 0xe9
			}
			rel := int32(targets[rng.IntN(len(targets))] - (len(b) + 5))
			b = binary.LittleEndian.AppendUint32(append(b, op), uint32(rel))
		default:
			for range 1 + rng.IntN(7) {
				b = append(b, filler[rng.IntN(len(filler))])
			}
		}
	}
	return b[:size]
}

// xzTestFiles were made by the xz tool (XZ Utils 5.4) from
// x86LikeData(1, 16 KiB); see TestWriteXZTestdata.
var xzTestFiles = []struct {
	name    string
	args    []string
	wantErr error
}{
	{"kernel-crc32-x86.xz", []string{"--check=crc32", "--x86", "--lzma2=dict=1MiB"}, nil}, // as scripts/xz_wrap.sh
	{"crc64-x86.xz", []string{"--x86", "--lzma2"}, nil},
	{"sha256-x86.xz", []string{"--check=sha256", "--x86", "--lzma2"}, nil},
	{"none-lzma2.xz", []string{"--check=none", "--lzma2"}, nil},
	{"x86-start-offset.xz", []string{"--x86=start=4096", "--lzma2"}, nil},
	{"multiblock-sizes.xz", []string{"-T2", "--block-size=4KiB", "--x86", "--lzma2"}, nil},
	{"delta.xz", []string{"--delta=dist=4", "--lzma2"}, ErrUnsupportedCompression},
	{"arm64.xz", []string{"--arm64", "--lzma2"}, ErrUnsupportedCompression},
}

const xzTestdataSize = 16 << 10

// TestWriteXZTestdata regenerates the committed xz files:
// go test ./loader -run TestWriteXZTestdata -args -write-xz-testdata
func TestWriteXZTestdata(t *testing.T) {
	if !*writeXZTestdata {
		hosttest.Skip(t, hosttest.ReasonRegenerate, "run with -args -write-xz-testdata to regenerate testdata/xz")
	}
	xz := hosttest.LookPath(t, "xz")
	data := x86LikeData(1, xzTestdataSize)
	for _, f := range xzTestFiles {
		cmd := exec.Command(xz, append([]string{"--format=xz", "--stdout"}, f.args...)...)
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("xz %v: %v", f.args, err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "xz", f.name), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDecodeXZFromXZUtils(t *testing.T) {
	t.Parallel()
	want := x86LikeData(1, xzTestdataSize)
	for _, f := range xzTestFiles {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(filepath.Join("testdata", "xz", f.name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeXZ(context.Background(), in, 0, 1<<20)
			if f.wantErr != nil {
				assertErrorIs(t, err, f.wantErr)
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("decoded %d bytes differ from the %d-byte original", len(got), len(want))
			}
		})
	}
}

// Round trips through the real xz tool, both ways, when it is installed.
func TestXZAgainstXZUtils(t *testing.T) {
	t.Parallel()
	xz := hosttest.LookPath(t, "xz")
	for _, size := range []int{0, 1, 5, 4095, 100000, 1 << 20} {
		data := x86LikeData(uint64(size), size)
		cmd := exec.Command(xz, "--format=xz", "--stdout", "--check=crc32", "--x86", "--lzma2=dict=2MiB")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeXZ(context.Background(), out, uint64(size), 8<<20)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("size %d: xz --x86 output: decoded %d bytes, err %v", size, len(got), err)
		}

		cmd = exec.Command(xz, "--decompress", "--stdout")
		cmd.Stdin = bytes.NewReader(loadertest.XZ(t, data))
		back, err := cmd.Output()
		if err != nil || !bytes.Equal(back, data) {
			t.Errorf("size %d: xz -d of loadertest.XZ: %d bytes, err %v", size, len(back), err)
		}
	}
}

// Offsets in a loadertest.XZ stream: 12-byte stream header, then a 12-byte
// block header (size, flags, BCJ id, BCJ props size, LZMA2 id, props size,
// dict byte, padding, CRC32), then LZMA2 data.
const (
	xzBlockFlags   = 13
	xzFirstFilter  = 14
	xzDictByte     = 18
	xzHeaderPad    = 19
	xzBlockHdrCRC  = 20
	xzLZMA2Start   = 24
	xzStreamFlags1 = 7
)

func fixStreamHeaderCRC(b []byte) []byte {
	return put32(b, 8, crc32.ChecksumIEEE(b[6:8]))
}

func fixBlockHeaderCRC(b []byte) []byte {
	return put32(b, xzBlockHdrCRC, crc32.ChecksumIEEE(b[12:xzBlockHdrCRC]))
}

func TestDecodeXZRejects(t *testing.T) {
	t.Parallel()
	data := x86LikeData(7, 3000)
	valid := func() []byte { return loadertest.XZ(t, data) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"bad magic", append([]byte("\xfd7zXY\x00"), valid()[6:]...), ErrCorruptPayload},
		{"stream header CRC", func() []byte { b := valid(); b[8] ^= 1; return b }(), ErrCorruptPayload},
		{"reserved stream flags", func() []byte { b := valid(); b[6] = 1; return fixStreamHeaderCRC(b) }(), ErrCorruptPayload},
		{"check type 2", func() []byte { b := valid(); b[xzStreamFlags1] = 2; return fixStreamHeaderCRC(b) }(), ErrUnsupportedCompression},
		{"block header CRC", func() []byte { b := valid(); b[xzFirstFilter] = 3; return b }(), ErrCorruptPayload},
		{"block header size past the end", func() []byte { b := valid(); b[12] = 0xff; return b }(), ErrCorruptPayload},
		{"reserved block flags", func() []byte { b := valid(); b[xzBlockFlags] |= 0x08; return fixBlockHeaderCRC(b) }(), ErrCorruptPayload},
		{"delta filter", func() []byte { b := valid(); b[xzFirstFilter] = 0x03; return fixBlockHeaderCRC(b) }(), ErrUnsupportedCompression},
		{"BCJ as last filter", func() []byte { b := valid(); b[xzBlockFlags] = 0; return fixBlockHeaderCRC(b) }(), ErrUnsupportedCompression},
		{"BCJ properties of 2 bytes", func() []byte { b := valid(); b[xzFirstFilter+1] = 2; return fixBlockHeaderCRC(b) }(), ErrCorruptPayload},
		{"dictionary byte 41", func() []byte { b := valid(); b[xzDictByte] = 41; return fixBlockHeaderCRC(b) }(), ErrCorruptPayload},
		{"non-zero header padding", func() []byte { b := valid(); b[xzHeaderPad] = 1; return fixBlockHeaderCRC(b) }(), ErrCorruptPayload},
		{"compressed size field disagrees", func() []byte {
			b := valid()
			b[xzBlockFlags] |= 0x40 // the compressed size now reads the BCJ id, 4
			return fixBlockHeaderCRC(b)
		}(), ErrCorruptPayload},
		{"invalid LZMA2 control byte", func() []byte { b := valid(); b[xzLZMA2Start] = 0x03; return b }(), ErrCorruptPayload},
		{"LZMA2 chunk size past the end", func() []byte { b := valid(); return binary.BigEndian.AppendUint16(b[:xzLZMA2Start+3], 0xffff) }(), ErrCorruptPayload},
		{"check mismatch", func() []byte { b := valid(); idx := len(b) - 12 - 12; b[idx-1] ^= 0xff; return b }(), ErrCorruptPayload},
		{"footer magic", func() []byte { b := valid(); b[len(b)-2] = 'Z'; return b }(), ErrCorruptPayload},
		{"footer CRC", func() []byte { b := valid(); b[len(b)-12] ^= 1; return b }(), ErrCorruptPayload},
		{"index CRC", func() []byte { b := valid(); b[len(b)-13] ^= 1; return b }(), ErrCorruptPayload},
		{"trailing garbage", append(valid(), 1, 2, 3, 4), ErrCorruptPayload},
		{"unaligned stream padding", append(valid(), 0, 0), ErrCorruptPayload},
		{"second stream", append(valid(), valid()...), ErrCorruptPayload},
		{"output over the limit", loadertest.XZ(t, make([]byte, 2<<20)), ErrPayloadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeXZ(context.Background(), tt.in, 0, 1<<20)
			assertErrorIs(t, err, tt.want)
			t.Log(err)
		})
	}
}

func TestDecodeXZAccepts(t *testing.T) {
	t.Parallel()
	data := x86LikeData(9, 5000)
	tests := []struct {
		name string
		in   []byte
	}{
		{"as built", loadertest.XZ(t, data)},
		{"stream padding", append(loadertest.XZ(t, data), 0, 0, 0, 0, 0, 0, 0, 0)},
		{"dictionary 4 GiB - 1 is capped, not allocated", func() []byte {
			b := loadertest.XZ(t, data)
			b[xzDictByte] = 40
			return fixBlockHeaderCRC(b)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeXZ(context.Background(), tt.in, 0, 1<<20)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("decoded %d bytes, err %v", len(got), err)
			}
		})
	}
}

// Every truncation of a valid stream fails cleanly.
func TestDecodeXZTruncated(t *testing.T) {
	t.Parallel()
	in := loadertest.XZ(t, x86LikeData(3, 2000))
	for n := range len(in) {
		_, err := decodeXZ(context.Background(), in[:n], 0, 1<<20)
		if err == nil {
			t.Fatalf("prefix of %d bytes decoded without error", n)
		}
		assertErrorIs(t, err, ErrCorruptPayload)
	}
}

func TestLZMA2DictSize(t *testing.T) {
	t.Parallel()
	for b, want := range map[byte]uint64{0: 4 << 10, 1: 6 << 10, 16: 1 << 20, 18: 2 << 20, 19: 3 << 20, 22: 8 << 20, 39: 3 << 30, 40: 1<<32 - 1} {
		if got := lzma2DictSize(b); got != want {
			t.Errorf("lzma2DictSize(%d) = %d, want %d", b, got, want)
		}
	}
}

func TestXZVarint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      []byte
		want    uint64
		wantEnd int
		ok      bool
	}{
		{[]byte{0x00}, 0, 1, true},
		{[]byte{0x7f}, 127, 1, true},
		{[]byte{0x80, 0x01}, 128, 2, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 1<<63 - 1, 9, true},
		{[]byte{0x80, 0x00}, 0, 0, false},                                           // non-minimal
		{[]byte{0x80}, 0, 0, false},                                                 // truncated
		{bytes.Repeat([]byte{0x80}, 10), 0, 0, false},                               // too long
		{[]byte{}, 0, 0, false},                                                     // empty
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, 0, false}, // 9 bytes, no end
	}
	for _, tt := range tests {
		got, end, err := xzVarint(tt.in, 0)
		if (err == nil) != tt.ok || got != tt.want || end != tt.wantEnd {
			t.Errorf("xzVarint(% x) = %d, %d, %v; want %d, %d, ok %v", tt.in, got, end, err, tt.want, tt.wantEnd, tt.ok)
		}
	}
}
