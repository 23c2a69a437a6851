package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCountCPUList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		list string
		want int
		ok   bool
	}{
		{"0", 1, true},
		{"0-1", 2, true},
		{"0-3,5,7-8", 7, true},
		{"", 0, false},
		{"3-1", 0, false},
		{"0-x", 0, false},
	}
	for _, tt := range tests {
		got, err := countCPUList(tt.list)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("countCPUList(%q) = %d, %v; want %d (ok %v)", tt.list, got, err, tt.want, tt.ok)
		}
	}
}

func TestModuleParams(t *testing.T) {
	t.Parallel()
	cmdline := "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 virtio-mmio.device=4K@0xd0001000:6 " +
		"virtio_mmio.flag virtio_net.napi_tx=1 glue.hw=blk"
	tests := map[string]string{
		"virtio_mmio": "device=4K@0xd0000000:5 device=4K@0xd0001000:6",
		"virtio_net":  "napi_tx=1",
		"virtio_blk":  "",
		"glue":        "hw=blk",
	}
	for name, want := range tests {
		if got := moduleParams(cmdline, name); got != want {
			t.Errorf("moduleParams(%s) = %q, want %q", name, got, want)
		}
	}
}

// The checksum of a whole message, its checksum field included, is zero.
func TestEchoRequest(t *testing.T) {
	t.Parallel()
	m := echoRequest(0x6c75, 3)
	if m[0] != 8 || m[1] != 0 || binary.BigEndian.Uint16(m[4:]) != 0x6c75 || binary.BigEndian.Uint16(m[6:]) != 3 {
		t.Fatalf("header % x", m[:8])
	}
	if c := checksum(m); c != 0 {
		t.Fatalf("checksum over the message is %#x, want 0", c)
	}
	odd := append(bytes.Clone(m), 0xab)
	binary.BigEndian.PutUint16(odd[2:], 0)
	binary.BigEndian.PutUint16(odd[2:], checksum(odd))
	if checksum(odd) != 0 {
		t.Fatal("odd-length checksum does not verify")
	}
}

// RFC 1071's worked example: the one's-complement sum of these words is
// 0xddf2, so the checksum is its complement.
func TestChecksumRFC1071(t *testing.T) {
	t.Parallel()
	if got := checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}); got != ^uint16(0xddf2) {
		t.Fatalf("checksum %#x, want %#x", got, ^uint16(0xddf2))
	}
}

func TestNewIfreq(t *testing.T) {
	t.Parallel()
	r := newIfreq(strings.Repeat("x", 20))
	if r[15] != 0 {
		t.Fatal("interface name not NUL-terminated within IFNAMSIZ")
	}
}

// The host's own /proc/net/snmp has the same layout as the guest's.
func TestEchoRequestsReceived(t *testing.T) {
	t.Parallel()
	if _, err := echoRequestsReceived(); err != nil {
		t.Fatal(err)
	}
}

func TestBootParamsDetails(t *testing.T) {
	t.Parallel()
	page := func(loader byte, version uint16) []byte {
		b := make([]byte, 4096)
		b[0x210] = loader
		binary.LittleEndian.PutUint16(b[0x206:], version)
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string
		ok   bool
	}{
		{"glue's zero page", page(0xff, 0x020f), "loader=0xff version=0x020f", true},
		{"Linux's PVH code, not on Xen", page(0xb0, 0x020c), "loader=0xb0 version=0x020c", true},
		{"loader 0", page(0, 0x0200), "loader=0x00 version=0x0200", true},
		{"too short", make([]byte, 0x210), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := bootParamsDetails(tc.data)
			if got != tc.want || (err == nil) != tc.ok {
				t.Errorf("got %q, %v; want %q (ok %v)", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestCountInterrupts(t *testing.T) {
	t.Parallel()
	nomsi := `           CPU0       CPU1
  0:         36          0   IO-APIC   2-edge      timer
  4:        812          0   IO-APIC   4-edge      ttyS0
 10:          0         57   IO-APIC  10-fasteoi   virtio0
 11:          0          0   IO-APIC  11-fasteoi   virtio1
NMI:          0          0   Non-maskable interrupts
`
	if got, want := countInterrupts(nomsi), (interruptCounts{ioapic: 2, fired: 1}); got != want {
		t.Errorf("pci=nomsi: %+v, want %+v", got, want)
	}
	msi := `           CPU0
  0:         36   IO-APIC   2-edge      timer
 24:          0   PCI-MSI 49152-edge      virtio0-config
 25:         12   PCI-MSI 49153-edge      virtio0-requests
`
	if got, want := countInterrupts(msi), (interruptCounts{msi: 2}); got != want {
		t.Errorf("MSI: %+v, want %+v", got, want)
	}
}

// The vsock check's stream is the one test/scenario's guestStream
// rebuilds on the host to check it byte for byte: the same digest.
func TestCounterStreamDigest(t *testing.T) {
	t.Parallel()
	b, _ := io.ReadAll(&counterStream{left: 1000})
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != "5fea1893c5bc61f60aaf7a7c42b16ed56d0bbd20a20d390d5214ca887b166297" {
		t.Errorf("SHA-256 %x", sum)
	}
}

// blkperf measures glue.hw.blkperf.mib MiB, 32 where unset, and refuses a
// size that is no number, out of bounds, or larger than the disk.
func TestBlkperfMiB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		param, sectors string
		want           int
		ok             bool
	}{
		{"", "131072", 32, true}, // 64 MiB disk
		{"64", "131072", 64, true},
		{"65", "131072", 0, false},
		{"", "65535", 0, false}, // one sector short of 32 MiB
		{"0", "131072", 0, false},
		{"-1", "131072", 0, false},
		{"x", "131072", 0, false},
		{"5000", "1000000000", 0, false},
		{"1", "nan", 0, false},
	}
	for _, tt := range tests {
		got, err := blkperfMiB(tt.param, tt.sectors)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("blkperfMiB(%q, %q) = %d, %v; want %d (ok %v)", tt.param, tt.sectors, got, err, tt.want, tt.ok)
		}
	}
}

// The line the nested comparison parses: MiB/s of each phase, one
// decimal, and the size.
func TestBlkperfDetails(t *testing.T) {
	t.Parallel()
	got := blkperfDetails(32, 4*time.Second, 500*time.Millisecond)
	if want := "write-mibs=8.0 read-mibs=64.0 mib=32"; got != want {
		t.Errorf("blkperfDetails = %q, want %q", got, want)
	}
}

// Each chunk carries its own number, so a read of another chunk (or of
// nothing written) is told apart.
func TestChunkHeader(t *testing.T) {
	t.Parallel()
	if a, b := chunkHeader(1), chunkHeader(12); bytes.HasPrefix(b, a) || bytes.HasPrefix(a, b) {
		t.Errorf("chunk headers %q and %q are prefixes of each other", a, b)
	}
}

// blkperfRun writes each MiB with its header and reads it all back; a
// file stands in for the disk where its file system takes O_DIRECT.
func TestBlkperfRun(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	write, read, err := blkperfRun(path, 3)
	if errors.Is(err, syscall.EINVAL) {
		t.Fatalf("the file system of %s does not take O_DIRECT (%v): set TMPDIR to a disk file system", path, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if write <= 0 || read <= 0 {
		t.Errorf("write %v, read %v: not timed", write, read)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 3*blkperfChunk {
		t.Fatalf("wrote %d bytes, want 3 MiB", len(b))
	}
	for i := range 3 {
		if !bytes.HasPrefix(b[i*blkperfChunk:], chunkHeader(i)) {
			t.Errorf("MiB %d starts %q", i, b[i*blkperfChunk:][:24])
		}
	}
}

// The tcp check's line gives each direction's rate in MiB/s.
func TestTCPRates(t *testing.T) {
	t.Parallel()
	got := tcpRates(64<<20, 2*time.Second, 1<<20, 500*time.Millisecond)
	if want := "received-mibs=32.0 sent-mibs=2.0"; got != want {
		t.Errorf("tcpRates: %q, want %q", got, want)
	}
}
