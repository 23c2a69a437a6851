package perf

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/loader/loadertest"
	"github.com/gluevmm/glue/test/hosttest"
)

// BenchmarkExtraction times what glue's start-up spends taking the vmlinux
// out of a bzImage (issue 11 item 8): loader.ExtractVmlinux in this
// process on the xz bzImage of GLUE_TEST_KERNEL, next to `xz -dc` and the
// kernel's own lib/xz (test/perf/kernelxz) decoding the same xz stream,
// and, on the same vmlinux compressed as the kernel build does for
// CONFIG_KERNEL_ZSTD, glue next to `zstd -dc`. Every decoder's output is
// checked against glue's vmlinux, length and SHA-256, before any is
// timed. It needs no KVM; the block is docs/performance.md's
// perf-extract block.
func BenchmarkExtraction(b *testing.B) {
	kernel := hosttest.Kernel(b)
	image, err := os.ReadFile(kernel)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	set, err := setUpExtraction(b, image, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	set.kernel = kernel
	for _, n := range set.notes {
		b.Log(n)
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	times := map[string]rounds{}
	for _, d := range set.decoders {
		if times[d.payload] == nil {
			times[d.payload] = newRounds(*nRounds)
		}
	}
	for r := range *nRounds {
		interleaveRound(r, *extractRuns, set.decoders, func(r int, d decoder) {
			took, err := d.decode(devNull)
			if err != nil {
				b.Fatal(err)
			}
			times[d.payload].add(r, d.name, ms(took))
		})
	}
	b.ReportMetric(0, "ns/op")
	res := extractResult{set: set, rounds: *nRounds, runs: *extractRuns}
	for _, p := range set.payloads {
		all := times[p.format].pooled()
		for _, d := range set.decoders {
			if d.payload == p.format {
				b.ReportMetric(all[d.name].median(), metricName(p.format+" "+d.name+" ms"))
			}
		}
		res.rows = append(res.rows, extractRow{p, row{p.format + " payload, wall time (ms)", "%.1f", times[p.format], p.target}})
	}
	res.took = time.Since(start)
	extractRun = &res
}

// metricName makes a benchmark metric's unit of a decoder's name: no
// spaces, "xz -dc" as "xz-dc".
func metricName(s string) string { return strings.NewReplacer(" -", "-", " ", "-").Replace(s) }

var extractRuns = flag.Int("extract-runs", 3, "BenchmarkExtraction: runs of each decoder per round")

// The decoders' sample keys besides glue's.
const (
	xzTool       = "xz -dc"
	zstdTool     = "zstd -dc"
	kernelXZName = "kernel lib/xz"
	// kernelSrcEnv names a Linux source tree whose lib/xz and
	// include/linux/xz.h the kernelXZName peer is built from.
	kernelSrcEnv = "GLUE_PERF_KERNEL_SRC"
)

// The kernel build's compression of the zstd payload (CONFIG_KERNEL_ZSTD:
// arch/x86/boot/compressed/Makefile's zstd22_with_size, scripts/Makefile.lib:
// `cat vmlinux.bin | zstd -22 --ultra`, then the size trailer).
var kernelZstdArgs = []string{"-22", "--ultra"}

// decoder is one way of getting the vmlinux back from one payload: glue's
// loader in this process, on a bzImage, or a command reading the bare
// stream on its standard input.
type decoder struct {
	name    string // the sample key: "glue", xzTool, zstdTool, kernelXZName
	payload string // the payload's format, the row it is timed in
	image   []byte // for glue: the bzImage
	argv    []string
	stdin   string // for a command: the file of the stream
}

// decode decodes once and writes the vmlinux to out, returning how long
// the decoding took: glue's ExtractVmlinux call into a []byte (the
// previous run's garbage collected first, as a fresh glue has none; the
// write to out comes after the clock stops), or the command from its start
// to its exit, its standard output out (a file such as /dev/null is the
// command's own; another writer reads a pipe).
func (d decoder) decode(out io.Writer) (time.Duration, error) {
	if d.image != nil {
		runtime.GC()
		start := time.Now()
		vmlinux, format, err := loader.ExtractVmlinux(d.image)
		took := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("glue, %s payload: %w", d.payload, err)
		}
		if format != d.payload {
			return 0, fmt.Errorf("glue: the payload is %s, not %s", format, d.payload)
		}
		_, err = out.Write(vmlinux)
		return took, err
	}
	in, err := os.Open(d.stdin)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(d.argv[0], d.argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, out, &stderr
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s (%s) on the %s payload: %v\n%s", d.name, strings.Join(d.argv, " "), d.payload, err, stderr.Bytes())
	}
	return took, nil
}

// digest is what a decoder's output is checked by.
type digest struct {
	n   int64
	sum [sha256.Size]byte
}

func digestOf(data []byte) digest { return digest{int64(len(data)), sha256.Sum256(data)} }

// digester is a writer that keeps the digest of what it is given.
type digester struct {
	h hash.Hash
	n int64
}

func newDigester() *digester { return &digester{h: sha256.New()} }

func (w *digester) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}

func (w *digester) digest() digest {
	d := digest{n: w.n}
	w.h.Sum(d.sum[:0])
	return d
}

// checkDecoder decodes once, untimed, and fails unless the output is
// want's length and hash: a decoder that decodes wrongly must not be
// timed. The run also warms the page cache for the timed ones.
func checkDecoder(d decoder, want digest) error {
	w := newDigester()
	if _, err := d.decode(w); err != nil {
		return err
	}
	switch got := w.digest(); {
	case got.n != want.n:
		return fmt.Errorf("%s on the %s payload: %d bytes out, glue's vmlinux has %d", d.name, d.payload, got.n, want.n)
	case got.sum != want.sum:
		return fmt.Errorf("%s on the %s payload: output's SHA-256 %x differs from glue's vmlinux's %x", d.name, d.payload, got.sum, want.sum)
	}
	return nil
}

// payloadInfo describes one payload the benchmark decodes.
type payloadInfo struct {
	format       string // "xz", "zstd"
	what         string // how it was made, for the report
	stream, size int    // the stream's bytes and the vmlinux's
	target       target
}

// extraction is what setUpExtraction found: the payloads, the decoders
// of each (all checked), and a note per peer (what it is, or why it is
// left out); and the bzImage's path, for the report.
type extraction struct {
	kernel   string
	payloads []payloadInfo
	decoders []decoder
	notes    []string
}

// glueAtMost12xXZ is issue 11 item 8's goal: glue's extraction within 1.2×
// `xz -dc` of the same payload.
var glueAtMost12xXZ = target{{ref: xzTool, atMost: true, factor: 1.2}}

// setUpExtraction extracts the vmlinux from image with glue, writes the
// bare xz stream (and the zstd frame, with zstd) into dir, builds the
// kernel's decoder if kernelSrcEnv names a source tree, and checks every
// decoder's output against glue's vmlinux.
func setUpExtraction(tb testing.TB, image []byte, dir string) (extraction, error) {
	vmlinux, format, err := loader.ExtractVmlinux(image)
	if err != nil {
		return extraction{}, err
	}
	if format != "xz" {
		return extraction{}, fmt.Errorf("%s: the payload is %s; the benchmark needs an xz bzImage", hosttest.KernelEnv, format)
	}
	payload, err := bzPayload(image)
	if err != nil {
		return extraction{}, err
	}
	stream, err := withoutSizeTrailer(payload, len(vmlinux))
	if err != nil {
		return extraction{}, err
	}
	xzFile := filepath.Join(dir, "vmlinux.xz")
	if err := os.WriteFile(xzFile, stream, 0o644); err != nil {
		return extraction{}, err
	}
	var set extraction
	set.payloads = append(set.payloads, payloadInfo{"xz", "the bzImage's own payload", len(stream), len(vmlinux), glueAtMost12xXZ})
	set.decoders = append(set.decoders, decoder{name: "glue", payload: "xz", image: image})
	if xz, ok := hosttest.LookPathOptional(tb, "xz"); ok {
		set.notes = append(set.notes, xzTool+": "+firstLine(xz, "--version")+", "+xz)
		set.decoders = append(set.decoders, decoder{name: xzTool, payload: "xz", argv: []string{xz, "-dc"}, stdin: xzFile})
	} else {
		set.notes = append(set.notes, xzTool+": not measured, no xz binary")
	}
	if unxz, note, err := buildKernelXZ(tb, dir); err != nil {
		set.notes = append(set.notes, kernelXZName+": not measured, "+err.Error())
	} else {
		set.notes = append(set.notes, kernelXZName+": "+note)
		set.decoders = append(set.decoders, decoder{name: kernelXZName, payload: "xz",
			argv: []string{unxz, strconv.Itoa(len(vmlinux))}, stdin: xzFile})
	}
	if zstd, ok := hosttest.LookPathOptional(tb, "zstd"); ok {
		frame, err := kernelZstd(zstd, vmlinux)
		if err != nil {
			return extraction{}, err
		}
		zstdFile := filepath.Join(dir, "vmlinux.zst")
		if err := os.WriteFile(zstdFile, frame, 0o644); err != nil {
			return extraction{}, err
		}
		zstdImage := loadertest.NewBzImage(binary.LittleEndian.AppendUint32(frame, uint32(len(vmlinux)))).Bytes()
		set.payloads = append(set.payloads, payloadInfo{"zstd", "the same vmlinux as `zstd " + strings.Join(kernelZstdArgs, " ") +
			"` from a pipe, in a bzImage of loader/loadertest", len(frame), len(vmlinux), nil})
		set.notes = append(set.notes, zstdTool+": "+strings.Trim(firstLine(zstd, "--version"), "* ")+", "+zstd)
		set.decoders = append(set.decoders,
			decoder{name: "glue", payload: "zstd", image: zstdImage},
			decoder{name: zstdTool, payload: "zstd", argv: []string{zstd, "-dc"}, stdin: zstdFile})
	} else {
		set.notes = append(set.notes, "zstd payload: not measured, no zstd binary")
	}
	want := digestOf(vmlinux)
	for _, d := range set.decoders {
		if err := checkDecoder(d, want); err != nil {
			return extraction{}, err
		}
	}
	return set, nil
}

// kernelZstd compresses vmlinux as the kernel build does, reading it from
// a pipe as `cat vmlinux.bin | zstd` does (so the frame declares no
// content size), without the size trailer.
func kernelZstd(zstd string, vmlinux []byte) ([]byte, error) {
	var frame, stderr bytes.Buffer
	cmd := exec.Command(zstd, kernelZstdArgs...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(vmlinux), &frame, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("zstd %s: %v\n%s", strings.Join(kernelZstdArgs, " "), err, stderr.Bytes())
	}
	return frame.Bytes(), nil
}

// The boot protocol's setup header fields bzPayload reads
// (Documentation/x86/boot.rst).
const (
	setupSectsField    = 0x1f1
	payloadOffsetField = 0x248 // from the start of the protected-mode kernel
	payloadLengthField = 0x24c
	defaultSetupSects  = 4 // what setup_sects 0 means
)

// bzPayload returns the compressed payload of a bzImage, as its setup
// header locates it, size trailer included.
func bzPayload(image []byte) ([]byte, error) {
	if len(image) < payloadLengthField+4 || string(image[headerMagicAt:headerMagicAt+4]) != "HdrS" {
		return nil, errors.New("bzImage: no setup header")
	}
	sects := uint64(image[setupSectsField])
	if sects == 0 {
		sects = defaultSetupSects
	}
	le := binary.LittleEndian
	start := (sects+1)*512 + uint64(le.Uint32(image[payloadOffsetField:]))
	end := start + uint64(le.Uint32(image[payloadLengthField:]))
	if end > uint64(len(image)) {
		return nil, fmt.Errorf("bzImage: payload %#x-%#x beyond the image's %#x bytes", start, end, len(image))
	}
	return image[start:end], nil
}

// withoutSizeTrailer returns the payload's compressed stream, checking that
// the kernel build's little-endian size trailer says size.
func withoutSizeTrailer(payload []byte, size int) ([]byte, error) {
	if len(payload) < 4 {
		return nil, fmt.Errorf("payload of %d bytes has no size trailer", len(payload))
	}
	n := len(payload) - 4
	if trailer := binary.LittleEndian.Uint32(payload[n:]); uint64(trailer) != uint64(size) {
		return nil, fmt.Errorf("payload's size trailer says %d bytes, the vmlinux has %d", trailer, size)
	}
	return payload[:n], nil
}
