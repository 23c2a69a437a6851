package blk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// SectorSize is the unit of virtio-blk addressing and of the capacity.
const SectorSize = 512

// IDBytes is the length of the GET_ID answer (VIRTIO_BLK_ID_BYTES).
const IDBytes = 20

// ErrInUse is returned (wrapped, with the path) by Open when another open
// of the image holds a conflicting lock: another VM uses it read-write, or
// it is opened read-write while others read it.
var ErrInUse = errors.New("in use by another VM (locked)")

// ErrReadOnly is returned (wrapped, with the path) by Disk.WriteAt on a
// read-only disk.
var ErrReadOnly = errors.New("read-only")

// Options are the settings of Open.
type Options struct {
	// ReadOnly opens the image read-only and takes a shared lock; the
	// device then offers VIRTIO_BLK_F_RO and fails every write.
	ReadOnly bool
	// ID is the serial the guest reads with GET_ID (Linux shows it in
	// /sys/block/vdX/serial), at most IDBytes bytes. Empty means the
	// image's file name, cut to IDBytes bytes.
	ID string
}

// Disk is a raw disk image (a regular file or a block device) opened and
// locked for one VM. It implements Backend. Its methods are safe for
// concurrent use.
type Disk struct {
	f        *os.File
	path     string
	id       string
	sectors  uint64
	readOnly bool
	// sync makes the file's written data durable: unix.Fdatasync, and a
	// counting or failing stand-in in tests, which is how they see that
	// Flush reaches the disk at all.
	sync func(fd int) error

	closeOnce sync.Once
	closeErr  error
}

// Open opens the raw image at path and locks it. The content is never
// interpreted: glue has no image formats, so a guest cannot make the host
// read another file through a format header.
//
// The lock is an open-file-description lock (fcntl F_OFD_SETLK) on the
// whole file: a write lock for read-write, a read lock for read-only. So a
// second read-write open of an image fails with ErrInUse, from another
// glue or from this process, as does a read-write open of an image others
// have open read-only, and vice versa; several read-only opens share it.
// OFD locks, unlike flock, are what QEMU's image locking takes (read locks
// on single bytes), so glue and QEMU see each other: a read-write open
// fails on an image a running QEMU has open, and QEMU fails on an image
// glue has open read-write. Unlike classic POSIX locks they conflict
// within one process too, and are not dropped when another descriptor of
// the file is closed. The lock lives as long as the file is open: Close,
// or the process ending in any way (kill -9 included), releases it. A file
// system without lock support makes Open fail.
//
// The capacity is the size divided by SectorSize, rounded down: bytes past
// the last whole sector are neither read nor written. An image smaller than
// one sector, a directory or any other kind of file is refused. The size
// is read once; the guest is not told if the image grows or shrinks later.
func Open(path string, opts Options) (*Disk, error) {
	id, err := diskID(path, opts.ID)
	if err != nil {
		return nil, err
	}
	flags := unix.O_RDWR
	if opts.ReadOnly {
		flags = unix.O_RDONLY
	}
	// O_NONBLOCK so that a FIFO given by mistake cannot block the open; it
	// is cleared again below (regular files and block devices ignore it).
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("blk: open disk %s: %w", path, err)
	}
	sectors, err := setup(fd, path, opts.ReadOnly)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Disk{f: os.NewFile(uintptr(fd), path), path: path, id: id, sectors: sectors, readOnly: opts.ReadOnly,
		sync: unix.Fdatasync}, nil
}

// diskID returns the GET_ID serial: the given one or the file name.
func diskID(path, id string) (string, error) {
	if id != "" {
		if len(id) > IDBytes {
			return "", fmt.Errorf("blk: disk %s: id %q is longer than %d bytes", path, id, IDBytes)
		}
		return id, nil
	}
	id = filepath.Base(path)
	if len(id) > IDBytes {
		n := IDBytes
		for n > 0 && !utf8.RuneStart(id[n]) { // do not split a character
			n--
		}
		id = id[:n]
	}
	return id, nil
}

// setup checks the opened file, clears O_NONBLOCK, locks the file and
// returns its capacity.
func setup(fd int, path string, readOnly bool) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("blk: stat disk %s: %w", path, err)
	}
	var size int64
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		size = st.Size
	case unix.S_IFBLK:
		// A block device's stat size is 0; its end is its size.
		var err error
		if size, err = unix.Seek(fd, 0, io.SeekEnd); err != nil {
			return 0, fmt.Errorf("blk: size of block device %s: %w", path, err)
		}
	case unix.S_IFDIR:
		return 0, fmt.Errorf("blk: disk %s is a directory, not an image file", path)
	default:
		return 0, fmt.Errorf("blk: disk %s is not a regular file or block device", path)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		return 0, fmt.Errorf("blk: disk %s: clear O_NONBLOCK: %w", path, err)
	}
	sectors := uint64(size) / SectorSize
	if sectors == 0 {
		return 0, fmt.Errorf("blk: disk %s: %d bytes is less than one %d-byte sector", path, size, SectorSize)
	}
	if err := lock(fd, path, readOnly); err != nil {
		return 0, err
	}
	return sectors, nil
}

// lock takes the whole-file OFD lock; see Open.
func lock(fd int, path string, readOnly bool) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart} // Start 0, Len 0: the whole file, however it grows
	if readOnly {
		lk.Type = unix.F_RDLCK
	}
	err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES):
		return fmt.Errorf("blk: disk %s is %w", path, ErrInUse)
	default:
		return fmt.Errorf("blk: lock disk %s: %w", path, err)
	}
}

// Path returns the path the disk was opened with.
func (d *Disk) Path() string { return d.path }

// ID returns the GET_ID serial.
func (d *Disk) ID() string { return d.id }

// Sectors returns the capacity in SectorSize units.
func (d *Disk) Sectors() uint64 { return d.sectors }

// ReadOnly reports whether the disk was opened read-only.
func (d *Disk) ReadOnly() bool { return d.readOnly }

// inRange reports whether [off, off+n) lies within the capacity.
func (d *Disk) inRange(off int64, n int) bool {
	return off >= 0 && uint64(off) <= d.sectors*SectorSize && uint64(n) <= d.sectors*SectorSize-uint64(off)
}

// ReadAt reads from the image (pread). Reads past the capacity return
// io.EOF, as for a file of that size.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if !d.inRange(off, len(p)) {
		if off < 0 {
			return 0, fmt.Errorf("blk: read disk %s at %d: negative offset", d.path, off)
		}
		end := int64(d.sectors * SectorSize)
		if off >= end {
			return 0, io.EOF
		}
		n, err := d.f.ReadAt(p[:end-off], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return d.f.ReadAt(p, off)
}

// WriteAt writes to the image (pwrite, into the host's page cache; Flush
// makes it durable). Writes past the capacity are refused, so the image
// never grows.
func (d *Disk) WriteAt(p []byte, off int64) (int, error) {
	if d.readOnly {
		return 0, fmt.Errorf("blk: write disk %s: %w", d.path, ErrReadOnly)
	}
	if !d.inRange(off, len(p)) {
		return 0, fmt.Errorf("blk: write disk %s: %d bytes at %d: past the capacity of %d sectors", d.path, len(p), off, d.sectors)
	}
	return d.f.WriteAt(p, off)
}

// Flush makes every completed write durable: fdatasync(2), which also
// flushes the volatile cache of the device under the file system.
func (d *Disk) Flush() error {
	rc, err := d.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("blk: flush disk %s: %w", d.path, err)
	}
	var syncErr error
	if err := rc.Control(func(fd uintptr) { syncErr = d.sync(int(fd)) }); err != nil {
		return fmt.Errorf("blk: flush disk %s: %w", d.path, err)
	}
	if syncErr != nil {
		return fmt.Errorf("blk: flush disk %s: %w", d.path, syncErr)
	}
	return nil
}

// Close syncs a read-write image and closes it, which releases its lock.
// The device using it must have been reset (or never activated). Later
// calls return the first call's result.
func (d *Disk) Close() error {
	d.closeOnce.Do(func() {
		// An orderly stop flushes what the guest wrote but did not flush,
		// so a stopped VM's image is as durable as a flushed one.
		var syncErr error
		if !d.readOnly {
			syncErr = d.Flush()
		}
		if err := d.f.Close(); err != nil {
			d.closeErr = fmt.Errorf("blk: close disk %s: %w", d.path, err)
		} else {
			d.closeErr = syncErr
		}
	})
	return d.closeErr
}
