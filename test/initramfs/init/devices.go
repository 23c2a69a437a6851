package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The disk protocol with the test: sector 0 holds "glue-hwkvm-in TOKEN\n"
// written by the host; init writes "glue-hwkvm-out TOKEN\n" at outOffset,
// flushes it, and reads it back from the device.
const (
	diskInPrefix  = "glue-hwkvm-in "
	diskOutPrefix = "glue-hwkvm-out "
	outOffset     = 4096
	sectorSize    = 512
)

// blkCheck reads the host's marker from the first virtio disk and writes
// one back through virtio-blk's write and flush.
func blkCheck(r *report, params map[string]string) {
	dev, err := firstVirtioDisk()
	if err != nil {
		r.fail("blk", "%v", err)
		return
	}
	details, err := diskRoundTrip(dev, params["glue.hw.token"])
	if err != nil {
		r.fail("blk", "%s: %v", dev, err)
		return
	}
	r.pass("blk", details)
}

func diskRoundTrip(dev, token string) (string, error) {
	sectors, err := os.ReadFile("/sys/block/" + dev + "/size")
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile("/dev/"+dev, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	in := make([]byte, sectorSize)
	if _, err := f.ReadAt(in, 0); err != nil {
		return "", fmt.Errorf("read sector 0: %w", err)
	}
	want := diskInPrefix + token + "\n"
	if !bytes.HasPrefix(in, []byte(want)) {
		return "", fmt.Errorf("sector 0 starts %q, want %q", in[:min(len(want)+8, len(in))], want)
	}
	out := make([]byte, sectorSize)
	copy(out, diskOutPrefix+token+"\n")
	if _, err := f.WriteAt(out, outOffset); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	// fsync on a block device is a cache flush: virtio-blk's FLUSH request.
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("fsync: %w", err)
	}
	// Drop the device's page cache so the read below goes to glue.
	if err := blockFlushBuffers(int(f.Fd())); err != nil {
		return "", fmt.Errorf("BLKFLSBUF: %w", err)
	}
	back := make([]byte, sectorSize)
	if _, err := f.ReadAt(back, outOffset); err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	if !bytes.Equal(back, out) {
		return "", fmt.Errorf("read back %q, wrote %q", back[:32], out[:32])
	}
	return fmt.Sprintf("dev=%s sectors=%s read=%s wrote=%d verified=1",
		dev, strings.TrimSpace(string(sectors)), token, outOffset), nil
}

// blockFlushBuffers is ioctl(BLKFLSBUF): write back and invalidate the
// block device's cached pages. The argument is unused, so no pointer is
// passed.
func blockFlushBuffers(fd int) error {
	const blkflsbuf = 0x1261 // _IO(0x12, 97), linux/fs.h
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), blkflsbuf, 0); errno != 0 {
		return errno
	}
	return nil
}

// rngCheck reads 32 bytes from the hardware RNG, which must be virtio-rng.
func rngCheck(r *report, _ map[string]string) {
	var current string
	err := waitFor(10*time.Second, func() error {
		b, err := os.ReadFile("/sys/class/misc/hw_random/rng_current")
		current = strings.TrimSpace(string(b))
		if err == nil && !strings.HasPrefix(current, "virtio_rng") {
			err = fmt.Errorf("rng_current is %q, not virtio_rng", current)
		}
		return err
	})
	if err != nil {
		r.fail("rng", "%v", err)
		return
	}
	f, err := os.Open("/dev/hwrng")
	if err != nil {
		r.fail("rng", "%v", err)
		return
	}
	defer f.Close()
	buf := make([]byte, 32)
	if _, err := io.ReadFull(f, buf); err != nil {
		r.fail("rng", "read /dev/hwrng: %v", err)
		return
	}
	if bytes.Equal(buf, make([]byte, len(buf))) {
		r.fail("rng", "32 zero bytes from /dev/hwrng")
		return
	}
	r.pass("rng", fmt.Sprintf("current=%s bytes=%d", current, len(buf)))
}

// hvc0Check writes to the virtio console, then hands over to the host:
// GLUE-READY tells the test to ping the guest and type a line on glue's
// stdin, which arrives on hvc0. The ping count is read after the line, so
// the host's pings are all in.
func hvc0Check(r *report, _ map[string]string) {
	err := waitFor(10*time.Second, func() error { _, err := os.Stat("/dev/hvc0"); return err })
	if err != nil {
		r.fail("hvc0", "%v", err)
		return
	}
	// O_NOCTTY: init is a session leader and must not take hvc0 as its
	// controlling terminal.
	hvc, err := os.OpenFile("/dev/hvc0", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		r.fail("hvc0", "%v", err)
		return
	}
	defer hvc.Close()
	// Without echo: the tty would echo the host's line onto hvc0, which
	// glue writes to the same stdout as the serial port's markers, and
	// the two interleave.
	if err := noEcho(int(hvc.Fd())); err != nil {
		r.fail("hvc0", "turn echo off: %v", err)
		return
	}
	// glue writes hvc0 and the serial port to the same stdout, and the
	// emulated UART sends a byte per exit: a marker still in its buffer
	// would come out with hvc0's line in the middle of it.
	if err := drain(int(os.Stdout.Fd())); err != nil {
		r.fail("hvc0", "drain the serial console: %v", err)
		return
	}
	if _, err := hvc.WriteString("GLUE-HVC0 hello from hvc0\n"); err != nil {
		r.fail("hvc0", "write: %v", err)
		return
	}
	r.line("GLUE-READY init host")
	lines := make(chan string, 1)
	go func() {
		// The tty is in canonical mode: the host's CR arrives as a newline.
		line, err := bufio.NewReader(hvc).ReadString('\n')
		if err != nil {
			line = "read error: " + err.Error()
		}
		lines <- strings.TrimRight(line, "\r\n")
	}()
	select {
	case line := <-lines:
		r.pass("hvc0", "echo="+line)
	case <-time.After(3 * time.Minute):
		r.fail("hvc0", "no line on hvc0 within 3 minutes")
	}
	if n, err := echoRequestsReceived(); err != nil {
		r.fail("net-in", "%v", err)
	} else {
		r.pass("net-in", "echo-requests="+strconv.Itoa(n))
	}
}
