package loader

import (
	"fmt"
	"os"
	"syscall"
)

// CheckFile reports whether LoadFile or LoadInitrdFile could read the image
// at path: it opens it as they do and checks that it is a regular file of
// at most MaxImageSize bytes. A VMM calls it to refuse a bad path before it
// creates anything; it never blocks, even on a FIFO.
func CheckFile(path string) error {
	f, _, err := openImage(path, MaxImageSize)
	if err != nil {
		return fmt.Errorf("loader: %w", err)
	}
	return f.Close()
}

// openImage opens a kernel or initrd for reading and checks that it is a
// regular file of at most limit bytes. O_NONBLOCK keeps the open of a FIFO
// from waiting for a writer; a regular file, the only kind accepted, ignores
// it.
func openImage(path string, limit uint64) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		switch {
		case fi.IsDir():
			err = errorf(ErrNotRegularFile, "%s is a directory", path)
		case !fi.Mode().IsRegular():
			err = errorf(ErrNotRegularFile, "%s is not a regular file (%s)", path, fi.Mode().Type())
		case uint64(fi.Size()) > limit:
			err = errorf(ErrFileTooLarge, "%s is %d bytes; the limit is %d", path, fi.Size(), limit)
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}
