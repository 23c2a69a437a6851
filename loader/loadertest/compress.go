package loadertest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/gluevmm/glue/loader/internal/bcj"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"
)

// Payload compresses vmlinux as the kernel build does for a bzImage payload
// (arch/x86/boot/compressed/Makefile): format is "gzip", "xz", "zstd" or
// "lz4", and every format but gzip gets the uncompressed size appended as a
// little-endian uint32 (gzip's own trailer already ends with it).
func Payload(tb testing.TB, format string, vmlinux []byte) []byte {
	tb.Helper()
	var out []byte
	switch format {
	case "gzip":
		return Gzip(tb, vmlinux)
	case "xz":
		out = XZ(tb, vmlinux)
	case "zstd":
		out = Zstd(tb, vmlinux)
	case "lz4":
		out = LZ4Legacy(tb, vmlinux)
	default:
		tb.Fatalf("loadertest: unknown payload format %q", format)
	}
	return binary.LittleEndian.AppendUint32(out, uint32(len(vmlinux)))
}

// Gzip compresses data into one gzip member.
func Gzip(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Zstd compresses data into one zstd frame.
func Zstd(tb testing.TB, data []byte) []byte {
	tb.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(data, nil)
}

// LZ4Legacy compresses data in lz4's legacy frame format (lz4 -l), in
// blocks of at most 8 MiB.
func LZ4Legacy(tb testing.TB, data []byte) []byte {
	tb.Helper()
	out := binary.LittleEndian.AppendUint32(nil, 0x184C2102)
	for len(data) > 0 {
		chunk := data[:min(len(data), 8<<20)]
		data = data[len(chunk):]
		block := make([]byte, lz4.CompressBlockBound(len(chunk)))
		n, err := lz4.CompressBlock(chunk, block, nil)
		if err != nil || n == 0 {
			tb.Fatalf("loadertest: lz4 block: n=%d err=%v", n, err)
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(n))
		out = append(out, block[:n]...)
	}
	return out
}

// LZMA2 compresses data to raw LZMA2 chunks with github.com/ulikunitz/xz,
// an encoder other than xz-utils that cuts its chunks differently.
func LZMA2(tb testing.TB, data []byte, dictCap int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := lzma.Writer2Config{DictCap: dictCap}.NewWriter2(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// XZ compresses data as scripts/xz_wrap.sh does for an x86 kernel: one xz
// stream, one block, filters x86 BCJ then LZMA2, CRC32 check.
func XZ(tb testing.TB, data []byte) []byte {
	tb.Helper()
	const dictSize = 1 << 20
	filtered := bytes.Clone(data)
	bcj.X86Encode(filtered, 0)
	lzma2 := LZMA2(tb, filtered, dictSize)

	le := binary.LittleEndian
	flags := []byte{0x00, 0x01} // check: CRC32
	out := append([]byte("\xfd7zXZ\x00"), flags...)
	out = le.AppendUint32(out, crc32.ChecksumIEEE(flags))

	// Block header: size byte, flags (2 filters, no sizes), x86 BCJ without
	// properties, LZMA2 with its dictionary byte (1 MiB = 2 << 19 -> 16).
	header := []byte{0, 0x01, 0x04, 0x00, 0x21, 0x01, 16}
	header = append(header, make([]byte, pad4(len(header)+4))...)
	header[0] = byte((len(header)+4)/4 - 1)
	header = le.AppendUint32(header, crc32.ChecksumIEEE(header))
	blockStart := len(out)
	out = append(out, header...)
	out = append(out, lzma2...)
	unpadded := len(out) - blockStart + 4
	out = append(out, make([]byte, pad4(len(out)-blockStart))...)
	out = le.AppendUint32(out, crc32.ChecksumIEEE(data))

	index := []byte{0x00, 0x01}
	index = appendXZVarint(index, uint64(unpadded))
	index = appendXZVarint(index, uint64(len(data)))
	index = append(index, make([]byte, pad4(len(index)))...)
	index = le.AppendUint32(index, crc32.ChecksumIEEE(index))
	out = append(out, index...)

	footer := le.AppendUint32(nil, uint32(len(index)/4-1))
	footer = append(footer, flags...)
	out = le.AppendUint32(out, crc32.ChecksumIEEE(footer))
	out = append(out, footer...)
	return append(out, "YZ"...)
}

func appendXZVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
