package loader

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gluevmm/glue/guestmem"
)

// MaxImageSize is the largest kernel or initrd file LoadFile and
// LoadInitrdFile read; distribution kernels are around 10 MiB.
const MaxImageSize = 1 << 30

// LoadFile reads the kernel image at path (a regular file of at most
// MaxImageSize bytes, and no larger than guest RAM) and loads it as Load
// does. A file too large is refused from its size, before it is read.
func LoadFile(mem *guestmem.Memory, path string, opts Options) (*Kernel, error) {
	if mem == nil {
		return nil, fmt.Errorf("loader: kernel: nil guest memory")
	}
	image, err := readImage(mem, path)
	if err != nil {
		return nil, fmt.Errorf("loader: kernel: %w", err)
	}
	return Load(mem, image, opts)
}

// LoadInitrdFile loads the initrd at path as LoadInitrd does, reading the
// file straight into the guest RAM it is placed in: no copy of it is made
// on the heap. Files larger than guest RAM are refused before they are
// read. If reading fails part-way (the file shrank, an I/O error), the
// chosen RAM may hold part of the file; the VM is not started then.
func LoadInitrdFile(mem *guestmem.Memory, path string, k *Kernel) (Initrd, error) {
	if mem == nil {
		return Initrd{}, fmt.Errorf("loader: initrd: nil guest memory")
	}
	limit := min(MaxImageSize, mem.Size())
	f, fi, err := openImage(path, limit)
	if err != nil {
		if errors.Is(err, ErrFileTooLarge) && limit < MaxImageSize {
			err = fmt.Errorf("%w (%d MiB): %w", ErrFileLargerThanRAM, mem.Size()>>20, err)
		}
		return Initrd{}, fmt.Errorf("loader: initrd: %w", err)
	}
	defer f.Close()
	rd, err := placeInitrd(mem, uint64(fi.Size()), k)
	if err != nil {
		return Initrd{}, err
	}
	dst, err := mem.Slice(rd.Addr, rd.Size)
	if err != nil {
		return Initrd{}, fmt.Errorf("loader: initrd: %w", err)
	}
	if _, err := io.ReadFull(f, dst); err != nil {
		return Initrd{}, fmt.Errorf("loader: initrd: read %s: %w", path, err)
	}
	// A file that grew after the size was taken would load truncated.
	if n, _ := f.Read(make([]byte, 1)); n != 0 {
		return Initrd{}, errorf(ErrFileTooLarge, "loader: initrd: %s grew past its %d bytes while being read", path, rd.Size)
	}
	return rd, nil
}

// readImage reads a kernel or initrd file for mem. Neither can be larger
// than guest RAM once loaded (a bzImage's payload only grows when
// decompressed; an ELF's debug sections are the exception, and a file
// that large wants stripping), so RAM bounds what is read: a 1 GiB file
// for a 64 MiB guest costs a stat, not 1 GiB of host memory.
func readImage(mem *guestmem.Memory, path string) ([]byte, error) {
	limit := min(MaxImageSize, mem.Size())
	data, err := readFileLimited(path, limit)
	if errors.Is(err, ErrFileTooLarge) && limit < MaxImageSize {
		return nil, fmt.Errorf("%w (%d MiB): %w", ErrFileLargerThanRAM, mem.Size()>>20, err)
	}
	return data, err
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
