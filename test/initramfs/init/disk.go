package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The ext4 root protocol with the test (test/scenario): the disk named by
// root= holds rootfsFile with the token (mkfs.ext4 -d on the host). The
// fsync check appends fsyncRecord(token, i) to fsyncFile, one fsync each,
// and prints GLUE-FSYNC i once the fsync returned, until the test kills
// glue; the later boots count the records that survived. rootrw writes
// writtenFile, rootro reads it back from the read-only disk.
const (
	fsyncFile   = "/glue-fsync"
	writtenFile = "/glue-written"
	recordSize  = 4096
	// fsyncLimit ends a loop that nobody killed.
	fsyncLimit = 10000
)

func fsyncRecord(token string, i int) []byte {
	b := make([]byte, recordSize)
	copy(b, fmt.Sprintf("glue-fsync %s %d\n", token, i))
	return b
}

// countRecords returns how many records fsyncFile holds, each the one its
// position says; any byte after them is an error (a torn or stray record).
func countRecords(path, token string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for ; (n+1)*recordSize <= len(b); n++ {
		if !bytes.Equal(b[n*recordSize:(n+1)*recordSize], fsyncRecord(token, n+1)) {
			return n, fmt.Errorf("%s: record %d is not %q", path, n+1, bytes.TrimRight(fsyncRecord(token, n+1), "\x00"))
		}
	}
	if rest := len(b) - n*recordSize; rest != 0 {
		return n, fmt.Errorf("%s: %d bytes after %d whole records", path, rest, n)
	}
	return n, nil
}

// rootDevice is the device of root= ("/dev/vda"); init mounts it itself
// since the kernel, whose ext4 and virtio_blk are modules, cannot.
func rootDevice(params map[string]string) (string, error) {
	dev := params["root"]
	if !strings.HasPrefix(dev, "/dev/") {
		return "", fmt.Errorf("root=%q: want root=/dev/NAME", dev)
	}
	return dev, waitFor(10*time.Second, func() error { _, err := os.Stat(dev); return err })
}

// mountRoot mounts the root= device at rootfsMount and checks its token.
func mountRoot(params map[string]string, flags uintptr) (string, error) {
	dev, err := rootDevice(params)
	if err != nil {
		return "", err
	}
	os.Mkdir(rootfsMount, 0o755)
	if err := syscall.Mount(dev, rootfsMount, "ext4", flags, ""); err != nil {
		return "", fmt.Errorf("mount -t ext4 %s %s (flags %#x): %w", dev, rootfsMount, flags, err)
	}
	b, err := os.ReadFile(rootfsMount + rootfsFile)
	if err == nil && string(b) != rootfsPrefix+params["glue.hw.token"]+"\n" {
		err = fmt.Errorf("%s holds %q, want the token %s", rootfsFile, b, params["glue.hw.token"])
	}
	if err != nil {
		syscall.Unmount(rootfsMount, 0)
		return "", err
	}
	return dev, nil
}

// writeCache is the disk's cache mode as the block layer sees it: "write
// back" when the device offers a flush (VIRTIO_BLK_F_FLUSH), so that an
// fsync reaches glue as a FLUSH request.
func writeCache(dev string) string {
	b, _ := os.ReadFile("/sys/block/" + strings.TrimPrefix(dev, "/dev/") + "/queue/write_cache")
	return strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "-")
}

// fsyncCheck appends records to fsyncFile, fsyncing each, until the
// test kills glue; it fails only if nobody does.
func fsyncCheck(r *report, params map[string]string) {
	token := params["glue.hw.token"]
	dev, err := mountRoot(params, 0)
	if err != nil {
		r.fail("fsync", "%v", err)
		return
	}
	defer syscall.Unmount(rootfsMount, 0)
	if cache := writeCache(dev); cache != "write-back" {
		r.fail("fsync", "%s: write_cache %q, want write-back: fsync would send no flush", dev, cache)
		return
	}
	f, err := os.OpenFile(rootfsMount+fsyncFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		r.fail("fsync", "%v", err)
		return
	}
	defer f.Close()
	r.line("GLUE-FSYNC 0 dev=%s write_cache=write-back", dev)
	for i := 1; i <= fsyncLimit; i++ {
		if _, err := f.Write(fsyncRecord(token, i)); err != nil {
			r.fail("fsync", "write record %d: %v", i, err)
			return
		}
		if err := f.Sync(); err != nil {
			r.fail("fsync", "fsync record %d: %v", i, err)
			return
		}
		r.line("GLUE-FSYNC %d", i)
	}
	r.fail("fsync", "still running after %d fsyncs: the test did not kill glue", fsyncLimit)
}

// rootrwCheck mounts the root read-write (which replays the journal of a
// boot that was killed), counts the fsync records that survived, writes
// writtenFile, syncs and unmounts, so that the disk is clean for fsck.
func rootrwCheck(r *report, params map[string]string) {
	token := params["glue.hw.token"]
	dev, err := mountRoot(params, 0)
	if err != nil {
		r.fail("rootrw", "%v", err)
		return
	}
	records, err := countRecords(rootfsMount+fsyncFile, token)
	if err == nil {
		err = writeSynced(rootfsMount+writtenFile, "glue-written "+token+"\n")
	}
	syscall.Sync()
	if uerr := syscall.Unmount(rootfsMount, 0); err == nil && uerr != nil {
		err = fmt.Errorf("umount %s: %w", rootfsMount, uerr)
	}
	if err != nil {
		r.fail("rootrw", "%s: %v", dev, err)
		return
	}
	r.pass("rootrw", fmt.Sprintf("dev=%s token=%s records=%d written=1", dev, token, records))
}

func writeSynced(path, content string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return f.Close()
}

// rootroCheck reads back what rootrw wrote from a disk glue offers
// read-only: Linux must see it read-only, refuse to open it for writing,
// and mount it only read-only.
func rootroCheck(r *report, params map[string]string) {
	token := params["glue.hw.token"]
	dev, err := rootDevice(params)
	if err != nil {
		r.fail("rootro", "%v", err)
		return
	}
	details, err := readOnlyRoot(dev, token, params)
	if err != nil {
		r.fail("rootro", "%s: %v", dev, err)
		return
	}
	r.pass("rootro", details)
}

func readOnlyRoot(dev, token string, params map[string]string) (string, error) {
	ro, err := os.ReadFile("/sys/block/" + strings.TrimPrefix(dev, "/dev/") + "/ro")
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(string(ro)) != "1" {
		return "", fmt.Errorf("/sys/block/.../ro is %q, want 1: the disk is writable", strings.TrimSpace(string(ro)))
	}
	refused, err := writeRefused(dev)
	if err != nil {
		return "", err
	}
	if _, err := mountRoot(params, 0); err == nil {
		syscall.Unmount(rootfsMount, 0)
		return "", errors.New("mounted read-write")
	}
	if _, err := mountRoot(params, syscall.MS_RDONLY); err != nil {
		return "", err
	}
	defer syscall.Unmount(rootfsMount, 0)
	written, err := os.ReadFile(rootfsMount + writtenFile)
	if err != nil {
		return "", err
	}
	if string(written) != "glue-written "+token+"\n" {
		return "", fmt.Errorf("%s holds %q", writtenFile, written)
	}
	records, err := countRecords(rootfsMount+fsyncFile, token)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("dev=%s ro=1 write=%s written=%s records=%d", dev, refused, token, records), nil
}

// writeRefused writes sector 0 back to the device as it is and returns
// the error's name: Linux opens a read-only disk for writing but refuses
// the write itself (EPERM). Writing what is there keeps the disk as it
// was should the write go through, which the test's digest would not
// catch; the write's success is the failure.
func writeRefused(dev string) (string, error) {
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return errName(err), nil
	}
	defer f.Close()
	sector := make([]byte, sectorSize)
	if _, err := f.ReadAt(sector, 0); err != nil {
		return "", fmt.Errorf("read sector 0: %w", err)
	}
	if _, err := f.WriteAt(sector, 0); err != nil {
		return errName(err), nil
	}
	if err := f.Sync(); err != nil {
		return errName(err), nil
	}
	return "", errors.New("wrote sector 0 of the read-only disk")
}

// errName is the errno's name for the details ("EACCES"), or the error.
func errName(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		for name, e := range map[string]syscall.Errno{"EACCES": syscall.EACCES, "EROFS": syscall.EROFS, "EPERM": syscall.EPERM} {
			if e == errno {
				return name
			}
		}
		return strconv.Itoa(int(errno))
	}
	return strings.ReplaceAll(err.Error(), " ", "-")
}
