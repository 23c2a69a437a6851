package initramfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// The newc ("new ASCII") cpio format, the one Linux unpacks into its
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst):
// each entry is a 110-byte header of the magic and thirteen 8-digit hex
// fields, the NUL-terminated name padded to a multiple of 4 bytes (counted
// from the start of the header), then the data padded likewise. The
// archive ends with an entry named TRAILER!!!.
const (
	newcMagic   = "070701"
	headerSize  = 110
	trailerName = "TRAILER!!!"
	// maxName is the kernel's limit on a name, its NUL included (PATH_MAX).
	maxName = 4096
)

// File type bits of a cpio mode (S_IFMT and friends in <sys/stat.h>).
const (
	modeType    = 0o170000
	modeDir     = 0o040000
	modeChar    = 0o020000
	modeRegular = 0o100000
	modeSymlink = 0o120000
)

// Writer writes a newc cpio archive. Entries are owned by uid and gid 0 and
// have mtime 0, so the same calls always produce the same bytes. Missing
// parent directories of a name are written first (mode 0755). Close writes
// the trailer; it does not close the underlying writer.
//
// A write error of the underlying writer is sticky: every later call
// returns it. An invalid name or mode is reported without writing anything.
type Writer struct {
	w      io.Writer
	off    int64 // bytes written so far, for the padding
	ino    uint32
	names  map[string]bool // name -> is a directory
	err    error
	closed bool
}

// NewWriter returns a Writer that writes an archive to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, names: map[string]bool{}}
}

// AddDir writes a directory. A directory that is already in the archive,
// written by AddDir or as a parent, is not written again.
func (w *Writer) AddDir(name string, perm fs.FileMode) error {
	name, err := w.prepare(name, perm, true)
	if err != nil || name == "" {
		return err
	}
	return w.entry(name, modeDir|unixPerm(perm), 2, 0, 0, nil)
}

// AddFile writes a regular file with the given permissions.
func (w *Writer) AddFile(name string, perm fs.FileMode, data []byte) error {
	name, err := w.prepare(name, perm, false)
	if err != nil {
		return err
	}
	return w.entry(name, modeRegular|unixPerm(perm), 1, 0, 0, data)
}

// AddSymlink writes a symbolic link to target (stored as the entry's data,
// as cpio does).
func (w *Writer) AddSymlink(name, target string) error {
	name, err := w.prepare(name, fs.ModePerm, false)
	if err != nil {
		return err
	}
	if target == "" || strings.IndexByte(target, 0) >= 0 {
		return fmt.Errorf("initramfs: symlink %s: bad target %q", name, target)
	}
	return w.entry(name, modeSymlink|0o777, 1, 0, 0, []byte(target))
}

// AddCharDevice writes a character device node. An initramfs needs at
// least /dev/console (5, 1): the kernel opens it as init's stdin, stdout
// and stderr before init runs, so before init can mount devtmpfs.
func (w *Writer) AddCharDevice(name string, perm fs.FileMode, major, minor uint32) error {
	name, err := w.prepare(name, perm, false)
	if err != nil {
		return err
	}
	return w.entry(name, modeChar|unixPerm(perm), 1, major, minor, nil)
}

// Close writes the trailer. The archive is complete only if Close returns
// nil.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("initramfs: cpio writer already closed")
	}
	w.closed = true
	// The trailer has no inode, mode or data; nlink 1 as GNU cpio writes it.
	w.writeHeader(trailerName, header{nlink: 1})
	return w.err
}

// prepare checks a name and mode, and writes the name's missing parent
// directories. It returns the name as stored: relative, cleaned; or "" and
// no error for a directory (dir) that is already in the archive.
func (w *Writer) prepare(name string, perm fs.FileMode, dir bool) (string, error) {
	if w.err != nil {
		return "", w.err
	}
	if w.closed {
		return "", errors.New("initramfs: cpio writer closed")
	}
	clean, err := cleanName(name)
	if err != nil {
		return "", err
	}
	if perm&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return "", fmt.Errorf("initramfs: %s: mode %v has more than permission bits", clean, perm)
	}
	if isDir, seen := w.names[clean]; seen {
		if dir && isDir {
			return "", nil
		}
		return "", fmt.Errorf("initramfs: %s is already in the archive", clean)
	}
	if parent := path.Dir(clean); parent != "." {
		parentIsDir, seen := w.names[parent]
		if seen && !parentIsDir {
			return "", fmt.Errorf("initramfs: %s: parent %s is not a directory", clean, parent)
		}
		if !seen {
			if err := w.AddDir(parent, 0o755); err != nil {
				return "", err
			}
		}
	}
	return clean, nil
}

// cleanName turns a path into an archive name: relative, without "." or
// ".." elements (the kernel would follow them), no NUL, within PATH_MAX.
func cleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("initramfs: name %q contains NUL", name)
	}
	clean := strings.TrimPrefix(path.Clean("/"+name), "/")
	if clean == "" || clean != strings.TrimPrefix(name, "/") {
		return "", fmt.Errorf("initramfs: name %q is not a clean path", name)
	}
	if len(clean)+1 > maxName {
		return "", fmt.Errorf("initramfs: name of %d bytes is longer than the kernel's PATH_MAX", len(clean))
	}
	return clean, nil
}

// unixPerm converts Go's permission and special bits to their <sys/stat.h>
// values.
func unixPerm(perm fs.FileMode) uint32 {
	m := uint32(perm & fs.ModePerm)
	if perm&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if perm&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if perm&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

// header holds the fields of one entry that are not always zero.
type header struct {
	ino, mode, nlink, size, rdevMajor, rdevMinor uint32
}

func (w *Writer) entry(name string, mode, nlink, major, minor uint32, data []byte) error {
	if uint64(len(data)) > 0xffffffff {
		return fmt.Errorf("initramfs: %s: %d bytes do not fit cpio's 32-bit size", name, len(data))
	}
	// Inodes only need to be distinct: the kernel links entries that share
	// one and have nlink > 1.
	w.ino++
	w.writeHeader(name, header{ino: w.ino, mode: mode, nlink: nlink, size: uint32(len(data)),
		rdevMajor: major, rdevMinor: minor})
	w.write(data)
	w.pad()
	if w.err == nil {
		w.names[name] = mode&modeType == modeDir
	}
	return w.err
}

func (w *Writer) writeHeader(name string, h header) {
	// ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
	// rdevminor namesize check; uid, gid, mtime, the device of the archive's
	// filesystem and the checksum (unused by newc) are zero.
	fields := [...]uint32{h.ino, h.mode, 0, 0, h.nlink, 0, h.size, 0, 0,
		h.rdevMajor, h.rdevMinor, uint32(len(name) + 1), 0}
	buf := make([]byte, 0, headerSize+len(name)+1)
	buf = append(buf, newcMagic...)
	for _, f := range fields {
		buf = fmt.Appendf(buf, "%08x", f)
	}
	buf = append(buf, name...)
	buf = append(buf, 0)
	w.write(buf)
	w.pad()
}

func (w *Writer) write(p []byte) {
	if w.err != nil || len(p) == 0 {
		return
	}
	n, err := w.w.Write(p)
	w.off += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("initramfs: write cpio: %w", err)
	}
}

// pad brings the archive to a multiple of 4 bytes.
func (w *Writer) pad() {
	var zero [3]byte
	w.write(zero[:(4-w.off%4)%4])
}
