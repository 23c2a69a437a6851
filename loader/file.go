package loader

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gluevmm/glue/guestmem"
)

// MaxImageSize is the largest kernel or initrd file LoadFile and
// LoadInitrdFile read; distribution kernels are around 10 MiB.
const MaxImageSize = 1 << 30

// LoadFile loads the kernel image at path (a regular file of at most
// MaxImageSize bytes, and no larger than guest RAM) as Load does, without
// reading the file whole: headers are read piece by piece and segment data
// straight into guest RAM. A file too large is refused from its size,
// before it is read. A read error part-way (the file shrank, an I/O error)
// may leave part of the kernel written; the VM is not started then.
func LoadFile(mem *guestmem.Memory, path string, opts Options) (*Kernel, error) {
	if mem == nil {
		return nil, fmt.Errorf("loader: kernel: nil guest memory")
	}
	f, fi, err := openForRAM(mem, path)
	if err != nil {
		return nil, fmt.Errorf("loader: kernel: %w", err)
	}
	defer f.Close()
	return load(mem, source{r: f, size: uint64(fi.Size())}, opts)
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
	f, fi, err := openForRAM(mem, path)
	if err != nil {
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

// openForRAM opens a kernel or initrd file for mem. Neither can be larger
// than guest RAM once loaded (a bzImage's payload only grows when
// decompressed; an ELF's debug sections are the exception, and a file
// that large wants stripping), so RAM bounds the file: a 1 GiB file for a
// 64 MiB guest costs a stat, not a read.
func openForRAM(mem *guestmem.Memory, path string) (*os.File, os.FileInfo, error) {
	limit := min(MaxImageSize, mem.Size())
	f, fi, err := openImage(path, limit)
	if errors.Is(err, ErrFileTooLarge) && limit < MaxImageSize {
		return nil, nil, fmt.Errorf("%w (%d MiB): %w", ErrFileLargerThanRAM, mem.Size()>>20, err)
	}
	return f, fi, err
}
