package perf

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

var (
	blkRuns = flag.Int("blk-runs", 3, "block runs per VMM and round, and of the host limit")
	blkMiB  = flag.Int("blk-mib", 64, "MiB written, then read, sequentially per run (glue.blk.mib)")
	blkOps  = flag.Int("blk-iops", 2000, "random 4 KiB reads per run (glue.blk.iops)")
)

// imageMiB is the disk image's size; the random reads range over all of it.
const imageMiB = 256

// blkPhases are the guest's timed stretches, in the order it runs them.
var blkPhases = [3]string{"blk-seq-write", "blk-seq-read", "blk-rand-read"}

// BenchmarkBlock times the guest's blk-bench on a virtio-blk disk backed by
// a raw image, host-timed between each GLUE-START and GLUE-OK line, and
// the host limit: this process doing the same I/O on the same file.
func BenchmarkBlock(b *testing.B) {
	glue, qemu := vmms(b)
	img := blockImage(b)
	cmdline := guestCmdline(fmt.Sprintf("blk-bench glue.blk.mib=%d glue.blk.iops=%d", *blkMiB, *blkOps))
	n := *nRounds
	write, read, random, cpu := newRounds(n), newRounds(n), newRounds(n), newRounds(n)
	// rates adds one run's three phases, timed in seconds, to the samples.
	rates := func(r int, name string, secs [3]float64) string {
		write.add(r, name, float64(*blkMiB)/secs[0])
		read.add(r, name, float64(*blkMiB)/secs[1])
		random.add(r, name, float64(*blkOps)/secs[2])
		return fmt.Sprintf("write %.1f MiB/s, read %.1f MiB/s, %.0f IOPS", float64(*blkMiB)/secs[0],
			float64(*blkMiB)/secs[1], float64(*blkOps)/secs[2])
	}
	var tscHz []tscRun
	req := 0
	runs := map[string]int{}
	interleave(b, *blkRuns, vmmOrder(glue, qemu), func(r int, v vmm) {
		tr, err := bootWith(v, cmdline, bootOpts{dev: devices{disk: img}}, 2*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		runs[v.name]++
		run := runs[v.name]
		var secs [3]float64
		var cpuSum time.Duration
		reqs := 0
		for i, name := range blkPhases {
			p, err := blkPhase(tr, name)
			if err != nil {
				b.Fatalf("%s: %v\n%s", v.name, err, tr.output())
			}
			secs[i], cpuSum, reqs = p.secs, cpuSum+p.cpu, reqs+p.reqs
			tscHz = append(tscHz, tscRun{v.name + " " + name, run, p.tsc / p.secs})
			if i == 0 {
				req = p.req
			}
		}
		perReq := float64(cpuSum.Microseconds()) / float64(reqs)
		cpu.add(r, v.name, perReq)
		msg := fmt.Sprintf("%s round %d run %d: %s, %d-byte requests, %.0f µs CPU/request", v.name, r+1, run, rates(r, v.name, secs), req, perReq)
		if v.name == "glue" {
			// The host limit after each glue run, so that it is
			// interleaved with the VMMs too, with glue's request size.
			hostSecs, err := hostIO(img, *blkMiB, req, *blkOps)
			if err != nil {
				b.Fatal(err)
			}
			msg += "; host: " + rates(r, hostName, hostSecs)
		}
		b.Log(msg)
	})
	clocks := checkClocks(b, tscHz)
	write.pooled().report(b, "write-MiB/s", "write-ratio")
	read.pooled().report(b, "read-MiB/s", "read-ratio")
	random.pooled().report(b, "IOPS", "iops-ratio")
	record(row{fmt.Sprintf("block sequential write, %d KiB requests (MiB/s)", req>>10), "%.0f", write, blockSeq})
	record(row{fmt.Sprintf("block sequential read, %d KiB requests (MiB/s)", req>>10), "%.0f", read, blockSeq})
	record(row{"block random 4 KiB reads (IOPS)", "%.0f", random, nil})
	record(row{"VMM CPU time per block request, user+sys (µs)", "%.0f", cpu, nil})
	setup(fmt.Sprintf("block: %d runs per VMM and of the host limit, guest `%s`, %d MiB image in the page cache, %s",
		*blkRuns, cmdline, imageMiB, clocks))
}

// phase is one timed stretch of a blk-bench run.
type phase struct {
	secs float64       // host time between the arrival of its two lines
	cpu  time.Duration // VMM CPU time used meanwhile
	tsc  float64       // the guest's own count of TSC ticks
	req  int           // bytes per request (sequential phases)
	reqs int           // requests made
}

// blkPhase reads one phase out of a blk-bench trace.
func blkPhase(tr *trace, name string) (phase, error) {
	start, ok1 := tr.find("GLUE-START " + name + " ")
	end, ok2 := tr.find("GLUE-OK " + name + " ")
	if !ok1 || !ok2 {
		return phase{}, fmt.Errorf("no GLUE-START/GLUE-OK %s lines", name)
	}
	p := phase{secs: (end.at - start.at).Seconds(), cpu: end.cpu - start.cpu}
	var err error
	if p.tsc, err = strconv.ParseFloat(field(end.text, "tsc"), 64); err != nil {
		return phase{}, fmt.Errorf("%q: no tsc=", end.text)
	}
	if v := field(end.text, "ops"); v != "" { // random reads
		p.req = 4096
		p.reqs, err = strconv.Atoi(v)
		return p, err
	}
	mib, err1 := strconv.Atoi(field(end.text, "mib"))
	req, err2 := strconv.Atoi(field(end.text, "req"))
	if err1 != nil || err2 != nil || req <= 0 {
		return phase{}, fmt.Errorf("%q: no mib= or req=", end.text)
	}
	p.req, p.reqs = req, (mib<<20+req-1)/req
	return p, nil
}

var (
	imageOnce sync.Once
	imagePath string
	imageErr  error
)

// blockImage makes the disk image once per package run, next to the glue
// binary: imageMiB of pseudo-random data, written out and synced, so every
// block is allocated (no sparse holes, which the host reads without
// touching data) and, the image being far smaller than RAM, stays in the
// page cache for the guests and the host limit alike.
func blockImage(b *testing.B) string {
	b.Helper()
	imageOnce.Do(func() {
		path := filepath.Join(buildDir, "disk.img")
		f, err := os.Create(path)
		if err != nil {
			imageErr = err
			return
		}
		r := rand.NewChaCha8([32]byte{'g', 'l', 'u', 'e'})
		buf := make([]byte, 1<<20)
		for range imageMiB {
			r.Read(buf)
			if _, err = f.Write(buf); err != nil {
				break
			}
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		imagePath, imageErr = path, err
	})
	if imageErr != nil {
		b.Fatalf("disk image: %v", imageErr)
	}
	return imagePath
}

// hostIO is the host limit: this process writes, then reads, the first mib
// MiB of the image in req-byte requests (pwrite, pread), then makes ops
// random 4 KiB preads at the guest's offsets, and returns the seconds each
// of the three took. Like the VMMs' device models it goes through the page
// cache, one request at a time, so a VMM's rate over this one is what its
// path from the guest's driver to the file costs.
func hostIO(path string, mib, req, ops int) ([3]float64, error) {
	var secs [3]float64
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return secs, err
	}
	defer f.Close()
	buf := make([]byte, req)
	total := int64(mib) << 20
	for i, write := range []bool{true, false} {
		start := time.Now()
		for off := int64(0); off < total && err == nil; off += int64(req) {
			n := min(int64(req), total-off)
			if write {
				// As the guest does: the sector number in the first bytes.
				binary.LittleEndian.PutUint64(buf, uint64(off/512))
				_, err = f.WriteAt(buf[:n], off)
			} else {
				_, err = f.ReadAt(buf[:n], off)
			}
		}
		secs[i] = time.Since(start).Seconds()
	}
	fi, serr := f.Stat()
	if err != nil || serr != nil {
		return secs, fmt.Errorf("host I/O on %s: %w", path, errors.Join(err, serr))
	}
	rnd := newGuestRand(fi.Size())
	start := time.Now()
	for range ops {
		if _, err := f.ReadAt(buf[:4096], rnd.next()); err != nil {
			return secs, fmt.Errorf("host I/O on %s: %w", path, err)
		}
	}
	secs[2] = time.Since(start).Seconds()
	return secs, nil
}

// guestRand yields the offsets of the guest's random reads (bench_random
// in guest/src/blk.c): xorshift64 from its fixed seed picks a 4 KiB block
// of the disk.
type guestRand struct{ x, blocks uint64 }

func newGuestRand(size int64) *guestRand {
	return &guestRand{x: 0x676c7565626c6b21, blocks: uint64(size) / 4096}
}

func (r *guestRand) next() int64 {
	r.x ^= r.x << 13
	r.x ^= r.x >> 7
	r.x ^= r.x << 17
	return int64(r.x % r.blocks * 4096)
}
