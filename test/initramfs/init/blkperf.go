package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The blkperf check measures sequential throughput on the first virtio
// disk, whatever is on it: it writes blkperfChunk-sized O_DIRECT writes
// over the first glue.hw.blkperf.mib MiB, fdatasyncs, and reads the same
// back with O_DIRECT, each phase timed by the guest's monotonic clock.
// O_DIRECT keeps the guest's page cache out, so both phases are requests
// to the VMM; each chunk starts with its number, which the read checks,
// so that a read that returned nothing of what was written cannot pass.
const (
	blkperfChunk      = 1 << 20
	blkperfDefaultMiB = 32
	blkperfMaxMiB     = 4096 // bounds the check's run time, not its memory: one chunk is reused
)

func blkperfCheck(r *report, params map[string]string) {
	dev, err := firstVirtioDisk()
	if err != nil {
		r.fail("blkperf", "%v", err)
		return
	}
	sectors, err := os.ReadFile("/sys/block/" + dev + "/size")
	if err != nil {
		r.fail("blkperf", "%v", err)
		return
	}
	mib, err := blkperfMiB(params["glue.hw.blkperf.mib"], strings.TrimSpace(string(sectors)))
	if err != nil {
		r.fail("blkperf", "%s: %v", dev, err)
		return
	}
	write, read, err := blkperfRun("/dev/"+dev, mib)
	if err != nil {
		r.fail("blkperf", "%s: %v", dev, err)
		return
	}
	r.pass("blkperf", blkperfDetails(mib, write, read))
}

// firstVirtioDisk waits for the first virtio disk (vda, ...) and its node.
func firstVirtioDisk() (string, error) {
	var dev string
	err := waitFor(10*time.Second, func() error {
		disks, _ := filepath.Glob("/sys/block/vd*")
		if len(disks) == 0 {
			return errors.New("no virtio disk in /sys/block")
		}
		slices.Sort(disks)
		dev = filepath.Base(disks[0])
		_, err := os.Stat("/dev/" + dev)
		return err
	})
	return dev, err
}

// blkperfMiB is the size to measure: glue.hw.blkperf.mib, or the default
// where it is unset; it must fit the disk of sectors 512-byte sectors.
func blkperfMiB(param, sectors string) (int, error) {
	mib := blkperfDefaultMiB
	if param != "" {
		n, err := strconv.Atoi(param)
		if err != nil || n < 1 || n > blkperfMaxMiB {
			return 0, fmt.Errorf("glue.hw.blkperf.mib=%q: want 1 to %d", param, blkperfMaxMiB)
		}
		mib = n
	}
	size, err := strconv.ParseUint(sectors, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %v", sectors, err)
	}
	if size*sectorSize < uint64(mib)<<20 {
		return 0, fmt.Errorf("%d MiB to measure, but the disk has %d sectors", mib, size)
	}
	return mib, nil
}

// blkperfDetails is the check's line: MiB/s of each phase, and the size.
func blkperfDetails(mib int, write, read time.Duration) string {
	return fmt.Sprintf("write-mibs=%.1f read-mibs=%.1f mib=%d", mibPerSec(mib, write), mibPerSec(mib, read), mib)
}

func mibPerSec(mib int, d time.Duration) float64 {
	if d <= 0 {
		d = time.Nanosecond
	}
	return float64(mib) / d.Seconds()
}

// chunkHeader is what chunk i starts with on the disk.
func chunkHeader(i int) []byte { return fmt.Appendf(nil, "glue-blkperf chunk %d\n", i) }

// blkperfRun writes and reads mib MiB of path and returns each phase's
// time: the write's includes the fdatasync that makes it reach the disk.
func blkperfRun(path string, mib int) (write, read time.Duration, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_DIRECT, 0)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	// O_DIRECT wants an aligned buffer: anonymous memory is page-aligned.
	buf, err := syscall.Mmap(-1, 0, blkperfChunk, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return 0, 0, fmt.Errorf("mmap: %w", err)
	}
	defer syscall.Munmap(buf)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	start := time.Now()
	for i := 0; i < mib; i++ {
		copy(buf, chunkHeader(i))
		if _, err := f.WriteAt(buf, int64(i)*blkperfChunk); err != nil {
			return 0, 0, fmt.Errorf("write MiB %d: %w", i, err)
		}
	}
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		return 0, 0, fmt.Errorf("fdatasync: %w", err)
	}
	write = time.Since(start)
	start = time.Now()
	for i := 0; i < mib; i++ {
		if _, err := f.ReadAt(buf, int64(i)*blkperfChunk); err != nil {
			return 0, 0, fmt.Errorf("read MiB %d: %w", i, err)
		}
		if h := chunkHeader(i); !bytes.HasPrefix(buf, h) {
			return 0, 0, fmt.Errorf("read MiB %d: starts %q, wrote %q", i, buf[:len(h)], h)
		}
	}
	read = time.Since(start)
	return write, read, nil
}
