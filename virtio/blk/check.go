package blk

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// CheckImage reports whether Open(path, opts) would succeed, without
// keeping anything open: the image exists and may be opened as asked, is a
// regular file or a block device of at least one sector, and no other VM
// holds a conflicting lock on it. A VMM calls it to refuse a bad disk before
// it creates anything. Like Open, it never blocks, even on a FIFO.
func CheckImage(path string, opts Options) error {
	if _, err := diskID(path, opts.ID); err != nil {
		return err
	}
	flags := unix.O_RDONLY
	if !opts.ReadOnly {
		flags = unix.O_RDWR
	}
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("blk: open disk %s: %w", path, err)
	}
	// Closing the descriptor releases the lock setup took to test it.
	defer unix.Close(fd)
	_, err = setup(fd, path, opts.ReadOnly)
	return err
}
