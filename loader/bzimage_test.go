package loader

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/loader/loadertest"
)

const testPref = 0x200000

// testBzImage wraps testELF(pvh), compressed with format, in a bzImage that
// prefers to load at 2 MiB (so the tests fit in 8 MiB of RAM).
func testBzImage(t testing.TB, format string, pvh bool) *loadertest.BzImage {
	z := loadertest.NewBzImage(loadertest.Payload(t, format, testELF(pvh).Bytes()))
	z.PrefAddress = testPref
	return z
}

func TestLoadBzImageExtract(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"gzip", "xz", "zstd", "lz4"} {
		for _, pvh := range []bool{false, true} {
			name := format
			if pvh {
				name += "-pvh"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				mem := newMem(t)
				image := testBzImage(t, format, pvh).Bytes()
				opts := Options{}
				wantPath, wantEntry := "bzimage-extracted-"+format, guestmem.Addr(testText)
				if pvh {
					opts.Protocol = PVH
					wantPath, wantEntry = wantPath+"-pvh", testPVHEntry
				}
				k, err := Load(mem, image, opts)
				if err != nil {
					t.Fatal(err)
				}
				if k.Format != FormatBzImage || k.Path != wantPath || k.Compression != format || k.Entry != wantEntry {
					t.Errorf("got %v %q %q entry %#x, want bzimage %q %q %#x", k.Format, k.Path, k.Compression, k.Entry, wantPath, format, wantEntry)
				}
				if !bytes.Equal(k.SetupHeader, image[0x1f1:loadertest.HeaderEnd]) {
					t.Errorf("setup header is %d bytes, not the image's", len(k.SetupHeader))
				}
				if k.CmdlineMax != 2047 || k.InitrdAddrMax != 0x7fffffff || k.Version != "6.1.0-test (loadertest) #1 SMP" {
					t.Errorf("cmdline max %d, initrd max %#x, version %q", k.CmdlineMax, k.InitrdAddrMax, k.Version)
				}
				if got := readMem(t, mem, testText, len(testTextBytes)); !bytes.Equal(got, testTextBytes) {
					t.Error("extracted text segment not in memory")
				}
				if got := readMem(t, mem, testData, len(testDataBytes)); !bytes.Equal(got, testDataBytes) {
					t.Error("extracted data segment not in memory")
				}
				// Extraction does not copy the bzImage itself.
				if b := readMem(t, mem, testPref, 1)[0]; b != memPattern {
					t.Errorf("memory at pref_address changed to %#x", b)
				}
			})
		}
	}
}

func TestLoadBzImageEntry64(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		modify   func(z *loadertest.BzImage)
		opts     Options
		wantLoad guestmem.Addr
	}{
		{name: "at pref_address", wantLoad: testPref},
		{name: "pref_address outside RAM, relocated to the aligned MinAddr",
			modify: func(z *loadertest.BzImage) { z.PrefAddress = 1 << 40 }, wantLoad: 0x200000},
		{name: "pref_address below MinAddr, relocated",
			modify: func(z *loadertest.BzImage) { z.PrefAddress = 0x1000; z.KernelAlignment = 0x1000 }, wantLoad: 0x100000},
		{name: "explicit MinAddr",
			modify: func(z *loadertest.BzImage) { z.PrefAddress = 0; z.KernelAlignment = 0x100000 },
			opts:   Options{MinAddr: 0x300000}, wantLoad: 0x300000},
		{name: "payload format irrelevant", modify: func(z *loadertest.BzImage) { z.Payload = []byte("BZh91AY&SY not decoded") }, wantLoad: testPref},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := newMem(t)
			z := testBzImage(t, "gzip", false)
			if tt.modify != nil {
				tt.modify(z)
			}
			image := z.Bytes()
			tt.opts.BzImageMode = BzImageEntry64
			k, err := Load(mem, image, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			kernel := image[z.SetupSize():]
			wantEnd := tt.wantLoad + guestmem.Addr((len(kernel)+4095)&^4095)
			if k.Path != "bzimage-64bit" || k.Protocol != Linux64 || k.Entry != tt.wantLoad+0x200 || k.Start != tt.wantLoad || k.End != wantEnd {
				t.Errorf("got %q %v entry %#x at [%#x, %#x), want entry %#x at [%#x, %#x)",
					k.Path, k.Protocol, k.Entry, k.Start, k.End, tt.wantLoad+0x200, tt.wantLoad, wantEnd)
			}
			if got := readMem(t, mem, tt.wantLoad, len(kernel)); !bytes.Equal(got, kernel) {
				t.Error("protected-mode kernel not copied to the load address")
			}
			if !bytes.Equal(k.SetupHeader, image[0x1f1:loadertest.HeaderEnd]) || k.Compression != "" {
				t.Errorf("setup header %d bytes, compression %q", len(k.SetupHeader), k.Compression)
			}
		})
	}
}

func TestLoadBzImageRejects(t *testing.T) {
	t.Parallel()
	build := func(modify func(z *loadertest.BzImage)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			z := testBzImage(t, "gzip", false)
			modify(z)
			return z.Bytes()
		}
	}
	patch := func(format string, f func(b []byte) []byte) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return f(testBzImage(t, format, false).Bytes()) }
	}
	// Offsets of the payload inside a default test image.
	const kernelOff = (4 + 1) * 512
	const payloadOff = kernelOff + 0x400
	payloadEnd := func(b []byte) int {
		return payloadOff + int(binary.LittleEndian.Uint32(b[loadertest.HdrPayloadLength:]))
	}
	withPayload := func(payload []byte) func(t *testing.T) []byte {
		return build(func(z *loadertest.BzImage) { z.Payload = payload })
	}
	entry64 := Options{BzImageMode: BzImageEntry64}
	tests := []struct {
		name    string
		image   func(t *testing.T) []byte
		opts    Options
		want    error
		wantMsg string
	}{
		{"no HdrS and no ELF magic", patch("gzip", func(b []byte) []byte { return put32(b, loadertest.HdrMagic, 0) }), Options{}, ErrUnknownFormat, ""},
		{"bad boot flag", patch("gzip", func(b []byte) []byte { return put16(b, loadertest.HdrBootFlag, 0x55aa) }), Options{}, ErrBzImageHeader, "boot_flag"},
		{"jump is not a short jmp", patch("gzip", func(b []byte) []byte { b[0x200] = 0xe9; return b }), Options{}, ErrBzImageHeader, "jump"},
		{"header runs past the zero page", patch("gzip", func(b []byte) []byte { b[0x201] = 0x90; return b }), Options{}, ErrBzImageHeader, "zero page"},
		{"header too short for its version", patch("gzip", func(b []byte) []byte { b[0x201] = 0x40; return b }), Options{}, ErrBzImageHeader, "must reach"},
		{"file ends inside the header", func(t *testing.T) []byte { return testBzImage(t, "gzip", false).Bytes()[:0x240] }, Options{}, ErrSetupSize, "past the"},
		{"header ends before the version", func(t *testing.T) []byte {
			b := testBzImage(t, "gzip", false).Bytes()[:0x206]
			b[0x201] = 4
			return b
		}, Options{}, ErrBzImageHeader, "before its version"},
		{"version too old", build(func(z *loadertest.BzImage) { z.Version = 0x0207 }), Options{}, ErrBzImageVersion, "2.07"},
		{"zImage", build(func(z *loadertest.BzImage) { z.LoadFlags = 0 }), Options{}, ErrBzImageHeader, "LOADED_HIGH"},
		{"setup_sects past EOF", patch("gzip", func(b []byte) []byte { b[loadertest.HdrSetupSects] = 200; return b }), Options{}, ErrSetupSize, "setup_sects 200"},
		{"syssize past EOF", patch("gzip", func(b []byte) []byte { return put32(b, loadertest.HdrSyssize, 0x100000) }), Options{}, ErrSetupSize, "syssize"},
		{"payload_offset past the kernel", patch("gzip", func(b []byte) []byte { return put32(b, loadertest.HdrPayloadOffset, 0x100000) }), Options{}, ErrPayloadRange, "payload_offset"},
		{"payload_length past the kernel", patch("gzip", func(b []byte) []byte { return put32(b, loadertest.HdrPayloadLength, 0x100000) }), Options{}, ErrPayloadRange, ""},
		{"payload offset+length overflow 32 bits", patch("gzip", func(b []byte) []byte {
			return put32(put32(b, loadertest.HdrPayloadOffset, 0xffffffff), loadertest.HdrPayloadLength, 0xffffffff)
		}), Options{}, ErrPayloadRange, ""},
		{"no payload to extract", patch("gzip", func(b []byte) []byte { return put32(b, loadertest.HdrPayloadLength, 0) }), Options{}, ErrPayloadRange, "nothing to extract"},
		{"bzip2 payload", withPayload([]byte("BZh91AY&SY\x00\x00\x00\x00")), Options{}, ErrUnsupportedCompression, "unsupported compression bzip2"},
		{"lzma payload", withPayload([]byte("\x5d\x00\x00\x80\x00\xff\xff\xff\xff")), Options{}, ErrUnsupportedCompression, "lzma"},
		{"lzo payload", withPayload([]byte("\x89LZO\x00\r\n\x1a\n")), Options{}, ErrUnsupportedCompression, "lzo"},
		{"unknown payload", withPayload([]byte("plain text, not compressed")), Options{}, ErrUnsupportedCompression, "no known compression"},
		{"payload shorter than its trailer", withPayload([]byte{0x1f, 0x8b, 8}), Options{}, ErrCorruptPayload, ""},
		{"declared size beyond RAM", patch("gzip", func(b []byte) []byte { return put32(b, payloadEnd(b)-4, 64<<20) }), Options{}, ErrPayloadTooLarge, "declares"},
		{"corrupt gzip", patch("gzip", func(b []byte) []byte { b[payloadOff+20] ^= 0xff; return b }), Options{}, ErrCorruptPayload, "gzip"},
		{"corrupt xz", patch("xz", func(b []byte) []byte { b[payloadOff+40] ^= 0xff; return b }), Options{}, ErrCorruptPayload, "xz"},
		{"corrupt zstd", patch("zstd", func(b []byte) []byte { b[payloadOff+20] ^= 0xff; return b }), Options{}, ErrCorruptPayload, "zstd"},
		{"corrupt lz4", patch("lz4", func(b []byte) []byte { return put32(b, payloadOff+4, 0x7fffffff) }), Options{}, ErrCorruptPayload, "lz4"},
		{"size trailer disagrees", patch("xz", func(b []byte) []byte { return put32(b, payloadEnd(b)-4, 100) }), Options{}, ErrCorruptPayload, "size trailer"},
		{"payload is not an ELF", withPayload(loadertest.Payload(t, "zstd", []byte("this is no ELF file at all"))), Options{}, ErrELFHeader, "extracted vmlinux"},
		{"extracted ELF below MinAddr", build(func(z *loadertest.BzImage) {
			z.Payload = loadertest.Payload(t, "gzip", testELF(false).Bytes())
		}), Options{MinAddr: 0x180000}, ErrBelowMinAddr, "extracted vmlinux"},
		{"extract PVH without note", build(func(z *loadertest.BzImage) {}), Options{Protocol: PVH}, ErrNoPVHEntry, ""},

		{"entry64: protocol 2.11", build(func(z *loadertest.BzImage) { z.Version = 0x020b }), entry64, ErrBzImageVersion, "2.11"},
		{"entry64: no XLF_KERNEL_64", build(func(z *loadertest.BzImage) { z.XLoadFlags = 0 }), entry64, ErrNo64BitEntry, "XLF_KERNEL_64"},
		{"entry64: PVH", build(func(z *loadertest.BzImage) {}), Options{BzImageMode: BzImageEntry64, Protocol: PVH}, ErrNoPVHEntry, ""},
		{"entry64: init_size beyond RAM", build(func(z *loadertest.BzImage) { z.InitSize = 64 << 20 }), entry64, ErrOutsideRAM, "init_size"},
		{"entry64: not relocatable, pref outside RAM", build(func(z *loadertest.BzImage) {
			z.Relocatable = false
			z.PrefAddress = 1 << 32
		}), entry64, ErrOutsideRAM, "not relocatable"},
		{"entry64: pref+init_size overflows", build(func(z *loadertest.BzImage) {
			z.Relocatable = false
			z.PrefAddress = 1<<64 - 0x1000
		}), entry64, ErrOutsideRAM, ""},
		{"entry64: bad kernel_alignment", build(func(z *loadertest.BzImage) {
			z.PrefAddress = 0
			z.KernelAlignment = 0x300000
		}), entry64, ErrBzImageHeader, "kernel_alignment"},
		{"entry64: kernel too small", build(func(z *loadertest.BzImage) { z.Code = nil; z.Payload = make([]byte, 0x100) }), entry64, ErrSetupSize, "64-bit entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := newMem(t)
			k, err := Load(mem, tt.image(t), tt.opts)
			if err == nil {
				t.Fatalf("loaded %+v, want error %v", k, tt.want)
			}
			assertErrorIs(t, err, tt.want)
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
			assertUntouched(t, mem)
			t.Log(err)
		})
	}
}

// A payload whose size trailer lies small but whose stream expands past the
// limit must be stopped by the decoder, for every format.
func TestDecompressionBomb(t *testing.T) {
	t.Parallel()
	bomb := make([]byte, 12<<20) // zeros: compresses to almost nothing
	for _, format := range []string{"gzip", "xz", "zstd", "lz4"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			payload := loadertest.Payload(t, format, bomb)
			// The limit must hold before the decoder reaches the (lying)
			// trailer; for gzip that is ISIZE itself.
			binary.LittleEndian.PutUint32(payload[len(payload)-4:], 1000)
			mem := newMem(t)
			_, err := Load(mem, loadertest.NewBzImage(payload).Bytes(), Options{})
			assertErrorIs(t, err, ErrPayloadTooLarge)
			assertUntouched(t, mem)
			t.Log(err)
		})
	}
}

func TestReadKernelVersion(t *testing.T) {
	t.Parallel()
	setup := func(ptr uint16, s string) []byte {
		b := make([]byte, 0x400)
		binary.LittleEndian.PutUint16(b[0x20e:], ptr)
		copy(b[0x300:], s)
		return b
	}
	tests := []struct {
		name  string
		setup []byte
		want  string
	}{
		{"normal", setup(0x100, "6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1\x00"), "6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1"},
		{"no pointer", setup(0, "6.1\x00"), ""},
		{"pointer past setup", setup(0x300, "6.1\x00"), ""},
		{"no NUL before the end", setup(0x100, strings.Repeat("x", 0x100)), ""},
		{"not printable", setup(0x100, "6.1\x01\x00"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := readKernelVersion(tt.setup); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
