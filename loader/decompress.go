package loader

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gluevmm/glue/loader/internal/zstd"
)

// MaxDecompressedSize caps a decompressed payload, whatever the guest's
// RAM (which caps it too): a payload is input the loader does not trust,
// and must not make glue allocate without bound.
const MaxDecompressedSize = 1 << 30

// payloadFormat is one compression the kernel build can use for the
// bzImage payload (CONFIG_KERNEL_*), recognised by the magic that the
// kernel's own lib/decompress.c looks for.
type payloadFormat struct {
	name   string
	magic  string
	decode func(ctx context.Context, stream []byte, sizeHint, limit uint64) ([]byte, error) // nil: unsupported
}

var payloadFormats = []payloadFormat{
	{"gzip", "\x1f\x8b", decodeGzip},
	{"xz", xzMagic, decodeXZ},
	{"zstd", "\x28\xb5\x2f\xfd", decodeZstd},
	{"lz4", "\x02\x21\x4c\x18", decodeLZ4Legacy},
	{"bzip2", "BZh", nil},
	{"lzma", "\x5d\x00", nil},
	{"lzo", "\x89LZO", nil},
}

// decompress decodes a bzImage payload into at most limit bytes. The kernel
// build appends the uncompressed size as a little-endian uint32 to every
// payload (for gzip it is the stream's own ISIZE trailer), which gives a
// bomb check before any work and a length check after it. The decoders look
// at ctx every decodeChunk bytes of output (lz4: every block) and stop with
// its error once it ends.
func decompress(ctx context.Context, payload []byte, limit uint64) (data []byte, format string, err error) {
	var pf *payloadFormat
	for i := range payloadFormats {
		if bytes.HasPrefix(payload, []byte(payloadFormats[i].magic)) {
			pf = &payloadFormats[i]
			break
		}
	}
	switch {
	case pf == nil:
		return nil, "", errorf(ErrUnsupportedCompression, "payload starts with % x, which is no known compression format",
			payload[:min(len(payload), 6)])
	case pf.decode == nil:
		return nil, pf.name, errorf(ErrUnsupportedCompression,
			"unsupported compression %s; use a kernel built with gzip, xz, zstd or lz4 (CONFIG_KERNEL_XZ...), or pass the vmlinux", pf.name)
	case len(payload) < len(pf.magic)+4:
		return nil, pf.name, errorf(ErrCorruptPayload, "%s payload is only %d bytes", pf.name, len(payload))
	}
	size := uint64(binary.LittleEndian.Uint32(payload[len(payload)-4:]))
	if size > limit {
		return nil, pf.name, errorf(ErrPayloadTooLarge, "%s payload declares %d bytes uncompressed; the limit is %d",
			pf.name, size, limit)
	}
	stream := payload
	if pf.name != "gzip" {
		stream = payload[:len(payload)-4]
	}
	data, err = pf.decode(ctx, stream, size, limit)
	if err != nil {
		return nil, pf.name, fmt.Errorf("%s payload: %w", pf.name, err)
	}
	if uint64(len(data)) != size {
		return nil, pf.name, errorf(ErrCorruptPayload, "%s payload decompressed to %d bytes, but its size trailer says %d",
			pf.name, len(data), size)
	}
	return data, pf.name, nil
}

// decodeChunk is the most a decoder produces between two looks at its
// context: a few milliseconds of work, so that a cancelled load (Ctrl-C
// during start-up) stops promptly rather than after the whole kernel.
const decodeChunk = 1 << 20

// ctxReader reads at most decodeChunk bytes at a time from r, and nothing
// once ctx has ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p[:min(len(p), decodeChunk)])
}

// readLimited reads r to EOF into a buffer sized for sizeHint bytes, failing
// with ErrPayloadTooLarge past limit, or with ctx's error once it ends.
func readLimited(ctx context.Context, r io.Reader, sizeHint, limit uint64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(sizeHint, limit)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(ctxReader{ctx, r}, int64(limit)+1)); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, errorf(ErrCorruptPayload, "%v", err)
	}
	if uint64(buf.Len()) > limit {
		return nil, errorf(ErrPayloadTooLarge, "decompresses to more than %d bytes", limit)
	}
	return buf.Bytes(), nil
}

func decodeGzip(ctx context.Context, stream []byte, sizeHint, limit uint64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(stream))
	if err != nil {
		return nil, errorf(ErrCorruptPayload, "%v", err)
	}
	zr.Multistream(false)
	return readLimited(ctx, zr, sizeHint, limit)
}

// decodeZstd decodes with glue's own decoder, which writes into one buffer
// as the LZMA2 one does and looks at ctx between blocks.
func decodeZstd(ctx context.Context, stream []byte, sizeHint, limit uint64) ([]byte, error) {
	data, err := zstd.Decode(ctx, stream, sizeHint, limit)
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return nil, err
	case errors.Is(err, zstd.ErrTooLarge):
		return nil, errorf(ErrPayloadTooLarge, "decompresses to more than %d bytes: %v", limit, err)
	case err != nil:
		return nil, errorf(ErrCorruptPayload, "%v", err)
	}
	return data, nil
}
