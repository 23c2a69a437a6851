package loader

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// source is a kernel image being loaded, read piece by piece: the headers
// with small bounded reads, segment data straight into guest RAM. A file
// is never read whole into the heap.
type source struct {
	r    io.ReaderAt
	size uint64
}

// bytesSource is an image already in memory.
func bytesSource(image []byte) source {
	return source{r: bytes.NewReader(image), size: uint64(len(image))}
}

// bytesAt reads the n bytes at off, which the caller has checked lie in
// the image; n must be small (a header, a table entry) or bounded by guest
// RAM.
func (src source) bytesAt(off, n uint64) ([]byte, error) {
	if !inFile(off, n, src.size) {
		return nil, fmt.Errorf("read %d bytes at %#x: past the %d-byte image", n, off, src.size)
	}
	b := make([]byte, n)
	if err := src.readAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}

// readAt fills p from offset off (guest RAM, for segment data).
func (src source) readAt(p []byte, off uint64) error {
	if _, err := src.r.ReadAt(p, int64(off)); err != nil {
		return fmt.Errorf("read %d bytes at %#x: %w", len(p), off, err)
	}
	return nil
}

// stream returns a buffered sequential reader of the n bytes at off, for
// walking a table or a note area without holding it in memory.
func (src source) stream(off, n uint64) *bufio.Reader {
	return bufio.NewReader(io.NewSectionReader(src.r, int64(off), int64(n)))
}

// readTable calls fn with the first want bytes of each of num entries of
// entsize bytes (entsize >= want) at off, which the caller has checked lie
// in the image. Only one entry is held at a time.
func (src source) readTable(off, num, entsize, want uint64, fn func(i uint64, entry []byte) error) error {
	br := src.stream(off, num*entsize)
	entry := make([]byte, want)
	for i := range num {
		if _, err := io.ReadFull(br, entry); err != nil {
			return fmt.Errorf("read entry %d at %#x: %w", i, off+i*entsize, err)
		}
		if err := fn(i, entry); err != nil {
			return err
		}
		if _, err := br.Discard(int(entsize - want)); err != nil {
			return fmt.Errorf("skip entry %d's tail: %w", i, err)
		}
	}
	return nil
}
