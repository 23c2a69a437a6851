package perf

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/loader/loadertest"
	"github.com/gluevmm/glue/test/hosttest"
)

// BenchmarkExtraction's parsing, checks and block, without a kernel.

// testVmlinux is data with x86 call and jump opcodes, which the xz
// payload's BCJ filter rewrites.
func testVmlinux() []byte {
	var data []byte
	for i := range 20000 {
		data = append(data, 0xe8, byte(i), byte(i>>8), 0, 0, 0x90, byte(i*7))
	}
	return data
}

func TestBzPayload(t *testing.T) {
	t.Parallel()
	payload := loadertest.Payload(t, "xz", testVmlinux())
	bz := loadertest.NewBzImage(payload)
	bz.SetupSects = defaultSetupSects
	image := bz.Bytes()
	if got, err := bzPayload(image); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("bzPayload: %d bytes, %v; want the %d-byte payload", len(got), err, len(payload))
	}
	image[setupSectsField] = 0 // the old protocol's "4"
	if got, err := bzPayload(image); err != nil || !bytes.Equal(got, payload) {
		t.Errorf("setup_sects 0: %d bytes, %v; want the payload", len(got), err)
	}
	if _, err := bzPayload(image[:len(image)-20]); err == nil {
		t.Error("payload past the image's end: no error")
	}
	bad := bytes.Clone(image)
	copy(bad[headerMagicAt:], "HdrX")
	if _, err := bzPayload(bad); err == nil {
		t.Error("no HdrS: no error")
	}
}

func TestWithoutSizeTrailer(t *testing.T) {
	t.Parallel()
	payload := binary.LittleEndian.AppendUint32([]byte("stream"), 1234)
	if got, err := withoutSizeTrailer(payload, 1234); err != nil || string(got) != "stream" {
		t.Errorf("withoutSizeTrailer = %q, %v; want the stream", got, err)
	}
	if _, err := withoutSizeTrailer(payload, 1235); err == nil {
		t.Error("a trailer that does not match the vmlinux: no error")
	}
	if _, err := withoutSizeTrailer([]byte{1, 2}, 2); err == nil {
		t.Error("a payload shorter than its trailer: no error")
	}
}

// A decoder whose output differs from glue's vmlinux in length or in a
// single byte, or which fails, fails the check; glue's own decoder is
// checked the same way, and its payload's format too.
func TestCheckDecoder(t *testing.T) {
	t.Parallel()
	cat, falseBin := hosttest.LookPath(t, "cat"), hosttest.LookPath(t, "false")
	vmlinux := testVmlinux()
	want := digestOf(vmlinux)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	flipped := bytes.Clone(vmlinux)
	flipped[len(flipped)/2] ^= 1
	image := loadertest.NewBzImage(loadertest.Payload(t, "xz", vmlinux)).Bytes()
	other := loadertest.NewBzImage(loadertest.Payload(t, "xz", vmlinux[1:])).Bytes()
	for _, tc := range []struct {
		name    string
		d       decoder
		wantErr string
	}{
		{"right output", decoder{name: xzTool, payload: "xz", argv: []string{cat}, stdin: file("same", vmlinux)}, ""},
		{"one byte off", decoder{name: xzTool, payload: "xz", argv: []string{cat}, stdin: file("flipped", flipped)}, "SHA-256"},
		{"short", decoder{name: xzTool, payload: "xz", argv: []string{cat}, stdin: file("short", vmlinux[:len(vmlinux)-1])}, "bytes out"},
		{"command fails", decoder{name: xzTool, payload: "xz", argv: []string{falseBin}, stdin: file("same2", vmlinux)}, "exit status 1"},
		{"glue", decoder{name: "glue", payload: "xz", image: image}, ""},
		{"glue, another vmlinux", decoder{name: "glue", payload: "xz", image: other}, "bytes out"},
		{"glue, another format", decoder{name: "glue", payload: "zstd", image: image}, "not zstd"},
	} {
		err := checkDecoder(tc.d, want)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.wantErr)
		}
	}
}

// Without GLUE_PERF_KERNEL_SRC the kernel's decoder is left out, saying
// why; with it, the harness built from that tree decodes an xz payload's
// stream to the vmlinux and fails on a corrupt one.
func TestKernelXZ(t *testing.T) {
	if os.Getenv(kernelSrcEnv) == "" {
		_, _, err := buildKernelXZ(t, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), kernelSrcEnv+" is unset") {
			t.Fatalf("buildKernelXZ without %s: %v, want it unset", kernelSrcEnv, err)
		}
		t.Logf("%s is unset: the harness itself is not checked (%v)", kernelSrcEnv, err)
		return
	}
	dir := t.TempDir()
	bin, note, err := buildKernelXZ(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(note)
	vmlinux := testVmlinux()
	stream, err := withoutSizeTrailer(loadertest.Payload(t, "xz", vmlinux), len(vmlinux))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(stream)
	corrupt[len(corrupt)/2] ^= 0x40
	for _, tc := range []struct {
		name   string
		stream []byte
		ok     bool
	}{{"stream", stream, true}, {"corrupt", corrupt, false}} {
		in := filepath.Join(dir, tc.name+".xz")
		if err := os.WriteFile(in, tc.stream, 0o644); err != nil {
			t.Fatal(err)
		}
		d := decoder{name: kernelXZName, payload: "xz", argv: []string{bin, strconv.Itoa(len(vmlinux))}, stdin: in}
		if err := checkDecoder(d, digestOf(vmlinux)); (err == nil) != tc.ok {
			t.Errorf("%s: check %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// The block shows each payload's decoders under their columns, the
// ratios of the medians, and the target's verdict over the rounds.
func TestExtractReport(t *testing.T) {
	t.Parallel()
	xz, zstd := newRounds(minRounds), newRounds(minRounds)
	for r := range minRounds {
		xz.add(r, "glue", 880)
		xz.add(r, xzTool, 800)
		xz.add(r, kernelXZName, 1000)
		zstd.add(r, "glue", 300)
		zstd.add(r, zstdTool, 200)
	}
	res := extractResult{
		set: extraction{kernel: "/boot/vmlinuz-test", notes: []string{"xz -dc: xz 5.4"}},
		rows: []extractRow{
			{payloadInfo{format: "xz", what: "its own", stream: 8e6, size: 64e6, target: glueAtMost12xXZ}, row{"xz payload (ms)", "%.1f", xz, glueAtMost12xXZ}},
			{payloadInfo{format: "zstd", what: "recompressed", stream: 9e6, size: 64e6}, row{"zstd payload (ms)", "%.1f", zstd, nil}},
		},
		rounds: minRounds, runs: 1, took: time.Minute,
	}
	got := extractReport("test machine", time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), res)
	for _, want := range []string{
		"Input: `vmlinuz-test` (GLUE_TEST_KERNEL).",
		"xz, its own: 8.00 MB → 64.00 MB",
		"Decoders: glue in the benchmark process; xz -dc: xz 5.4.",
		"| xz | 880.0 (880.0–880.0) | `xz -dc` | 800.0 (800.0–800.0) | 1000.0 (1000.0–1000.0) | 1.100 | 0.880 | ≤ 1.2× xz -dc | met (glue/xz -dc 1.10–1.10) |",
		"| zstd | 300.0 (300.0–300.0) | `zstd -dc` | 200.0 (200.0–200.0) | – | 1.500 | – | – | – |",
		"- xz payload (ms), target ≤ 1.2× xz -dc: **met**; glue/xz -dc 1.10, 1.10, 1.10.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the block lacks %q:\n%s", want, got)
		}
	}
}
