package loader

import (
	"bytes"
	"fmt"
	"io"

	"github.com/gluevmm/glue/guestmem"
)

// MaxImageSize is the largest kernel or initrd file LoadFile and
// LoadInitrdFile read; distribution kernels are around 10 MiB.
const MaxImageSize = 1 << 30

// LoadFile reads the kernel image at path (a regular file of at most
// MaxImageSize bytes) and loads it as Load does.
func LoadFile(mem *guestmem.Memory, path string, opts Options) (*Kernel, error) {
	image, err := readFileLimited(path, MaxImageSize)
	if err != nil {
		return nil, fmt.Errorf("loader: kernel: %w", err)
	}
	return Load(mem, image, opts)
}

// LoadInitrdFile reads the initrd at path and loads it as LoadInitrd does.
// Files larger than guest RAM are refused before they are read.
func LoadInitrdFile(mem *guestmem.Memory, path string, k *Kernel) (Initrd, error) {
	if mem == nil {
		return Initrd{}, fmt.Errorf("loader: initrd: nil guest memory")
	}
	data, err := readFileLimited(path, min(MaxImageSize, mem.Size()))
	if err != nil {
		return Initrd{}, fmt.Errorf("loader: initrd: %w", err)
	}
	return LoadInitrd(mem, data, k)
}

// readFileLimited reads a regular file of at most limit bytes. The limit is
// checked against the size before reading (openImage) and enforced while
// reading, in case the file grows.
func readFileLimited(path string, limit uint64) ([]byte, error) {
	f, fi, err := openImage(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Sized for the file as stated, plus room for ReadFrom to see EOF.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, int64(limit)+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if uint64(buf.Len()) > limit {
		return nil, errorf(ErrFileTooLarge, "%s grew past the %d-byte limit while being read", path, limit)
	}
	return buf.Bytes(), nil
}
