package loader

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/loader/loadertest"
	"github.com/gluevmm/glue/test/hosttest"
)

// The fuzz targets load into RAM with a hole, [0, 3 MiB) and [4 MiB, 6 MiB),
// and check that a rejected image leaves it untouched. Decompression is
// bounded by the 5 MiB of RAM, so bombs stay cheap.
var fuzzSpans = []guestmem.Span{{Base: 0, Size: 3 << 20}, {Base: 4 << 20, Size: 2 << 20}}

// checkLoad asserts the fuzz invariants after Load: on failure memory is
// unchanged; on success the entry and the kernel lie in RAM at or above
// the minimum address. It refills the pattern for the next input.
func checkLoad(t *testing.T, mem *guestmem.Memory, k *Kernel, err error) {
	t.Helper()
	if err != nil {
		if addr, ok := untouched(mem); !ok {
			t.Fatalf("failed load (%v) wrote guest memory at %#x", err, addr)
		}
		return
	}
	defer fillPattern(mem)
	if k.Start < DefaultMinAddr || k.End <= k.Start || k.Entry < k.Start || k.Entry >= k.End {
		t.Fatalf("kernel [%#x, %#x) entry %#x", k.Start, k.End, k.Entry)
	}
	if !mem.Contains(k.Entry, 1) || !mem.Contains(k.Start, 1) || !mem.Contains(k.End-1, 1) {
		t.Fatalf("kernel [%#x, %#x) entry %#x outside RAM", k.Start, k.End, k.Entry)
	}
}

func FuzzELF(f *testing.F) {
	mem := newMem(f, fuzzSpans...)
	f.Fuzz(func(t *testing.T, image []byte, pvh bool) {
		opts := Options{}
		if pvh {
			opts.Protocol = PVH
		}
		k, err := Load(mem, image, opts)
		checkLoad(t, mem, k, err)
	})
}

func FuzzPVH(f *testing.F) {
	f.Fuzz(func(t *testing.T, notes []byte, align8 bool) {
		align := uint64(4)
		if align8 {
			align = 8
		}
		_, found, err := findPVHEntry(bytes.NewReader(notes), uint64(len(notes)), align)
		if err != nil && found {
			t.Fatal("found an entry and failed")
		}
	})
}

func FuzzBzImage(f *testing.F) {
	mem := newMem(f, fuzzSpans...)
	f.Fuzz(func(t *testing.T, image []byte, entry64 bool) {
		opts := Options{}
		if entry64 {
			opts.BzImageMode = BzImageEntry64
		}
		k, err := Load(mem, image, opts)
		checkLoad(t, mem, k, err)
	})
}

const fuzzDecodeLimit = 4 << 20

func FuzzPayload(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, _, err := decompress(context.Background(), payload, fuzzDecodeLimit)
		if err == nil && len(out) > fuzzDecodeLimit {
			t.Fatalf("decompressed %d bytes past the limit", len(out))
		}
	})
}

func FuzzXZ(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		out, err := decodeXZ(context.Background(), stream, 0, fuzzDecodeLimit)
		if err == nil && len(out) > fuzzDecodeLimit {
			t.Fatalf("decompressed %d bytes past the limit", len(out))
		}
	})
}

var writeFuzzCorpus = flag.Bool("write-fuzz-corpus", false, "regenerate the seed corpora in testdata/fuzz")

// TestWriteFuzzCorpus regenerates the committed seed corpora from the
// synthetic images:
// go test ./loader -run TestWriteFuzzCorpus -args -write-fuzz-corpus
func TestWriteFuzzCorpus(t *testing.T) {
	if !*writeFuzzCorpus {
		hosttest.Skip(t, hosttest.ReasonRegenerate, "run with -args -write-fuzz-corpus to regenerate testdata/fuzz")
	}
	small := testELF(true).Bytes()
	inSection := testELF(true)
	inSection.NotesInSection = true
	longNoteName := testELF(true)
	longNoteName.Notes = append([]loadertest.Note{{Name: strings.Repeat("long name ", 20), Type: 18, Desc: []byte{1}}}, longNoteName.Notes...)
	virtualEntry := testELF(false)
	virtualEntry.Entry = 0xffffffff81000010
	bz := func(format string, modify func(*loadertest.BzImage)) []byte {
		z := testBzImage(t, format, true)
		if modify != nil {
			modify(z)
		}
		return z.Bytes()
	}
	xzFile := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "xz", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	corpora := map[string]map[string][]any{
		"FuzzELF": {
			"vmlinux":        {testELF(false).Bytes(), false},
			"pvh":            {small, true},
			"pvh-in-section": {inSection.Bytes(), true},
			"virtual-entry":  {virtualEntry.Bytes(), false},
			"overlap":        {put64(testELF(false).Bytes(), phdr(1, phPaddr), testText+0x200), false},
			"pvh-long-name":  {longNoteName.Bytes(), true},
		},
		"FuzzPVH": {
			"linux-8-byte": {loadertest.EncodeNotes(loadertest.Note{Name: "Linux", Type: 6, Desc: []byte("6.1")}, loadertest.PVHNote(0x1000850)), false},
			"xen-4-byte":   {loadertest.EncodeNotes(loadertest.Note{Name: "Xen", Type: 18, Desc: []byte{0, 0, 0x10, 0}}), false},
			"long-name": {loadertest.EncodeNotes(
				loadertest.Note{Name: strings.Repeat("long name ", 20), Type: 18, Desc: []byte{1, 2, 3, 4, 5}},
				loadertest.PVHNote(0x1000850)), false},
			"align-8": {[]byte{
				4, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 'G', 'N', 'U', 0, 1, 2, 3, 4, 0, 0, 0, 0,
				4, 0, 0, 0, 8, 0, 0, 0, 18, 0, 0, 0, 'X', 'e', 'n', 0, 0x00, 0x10, 0, 0, 0, 0, 0, 0,
			}, true},
		},
		"FuzzBzImage": {
			"gzip":    {bz("gzip", nil), false},
			"xz":      {bz("xz", nil), false},
			"zstd":    {bz("zstd", nil), false},
			"lz4":     {bz("lz4", nil), false},
			"entry64": {bz("gzip", nil), true},
			"bzip2":   {bz("gzip", func(z *loadertest.BzImage) { z.Payload = []byte("BZh91AY&SY\x00\x00\x00\x00") }), true},
		},
		"FuzzPayload": {
			"gzip":  {loadertest.Payload(t, "gzip", small)},
			"xz":    {loadertest.Payload(t, "xz", small)},
			"zstd":  {loadertest.Payload(t, "zstd", small)},
			"lz4":   {loadertest.Payload(t, "lz4", small)},
			"bzip2": {[]byte("BZh91AY&SY\x00\x00\x00\x00\x10\x00\x00\x00")},
		},
		"FuzzXZ": {
			"loadertest":       {loadertest.XZ(t, x86LikeData(5, 2000))},
			"kernel-style":     {xzFile("kernel-crc32-x86.xz")},
			"multiblock":       {xzFile("multiblock-sizes.xz")},
			"short":            {loadertest.XZ(t, []byte("short"))},
			"empty-loadertest": {loadertest.XZ(t, nil)},
		},
	}
	for target, seeds := range corpora {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, args := range seeds {
			content := "go test fuzz v1\n"
			for _, a := range args {
				switch v := a.(type) {
				case []byte:
					content += fmt.Sprintf("[]byte(%q)\n", v)
				case bool:
					content += fmt.Sprintf("bool(%v)\n", v)
				default:
					t.Fatalf("seed %s/%s: unsupported argument type %T", target, name, a)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
