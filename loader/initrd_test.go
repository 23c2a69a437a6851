package loader

import (
	"bytes"
	"testing"

	"github.com/gluevmm/glue/guestmem"
)

func TestLoadInitrd(t *testing.T) {
	t.Parallel()
	const MiB = 1 << 20
	initrd := bytes.Repeat([]byte("initrd!"), 1000) // 7000 bytes: two pages
	tests := []struct {
		name     string
		spans    []guestmem.Span
		kernel   Kernel
		size     int
		wantAddr guestmem.Addr
		wantErr  error
	}{
		{name: "top of RAM below the ELF default limit", kernel: Kernel{End: 2 * MiB, InitrdAddrMax: DefaultInitrdAddrMax},
			wantAddr: 8*MiB - 8192},
		{name: "zero InitrdAddrMax means the default", kernel: Kernel{End: 2 * MiB},
			wantAddr: 8*MiB - 8192},
		{name: "below initrd_addr_max", kernel: Kernel{End: 2 * MiB, InitrdAddrMax: 6*MiB - 1},
			wantAddr: 6*MiB - 8192},
		{name: "unaligned initrd_addr_max", kernel: Kernel{End: 2 * MiB, InitrdAddrMax: 6*MiB + 4096 + 100},
			wantAddr: 6*MiB - 4096},
		{name: "exactly fills the space above the kernel", kernel: Kernel{End: 8*MiB - 8192 - 10}, size: 8192,
			wantAddr: 8*MiB - 8192},
		{name: "highest region under the limit",
			spans:    []guestmem.Span{{Base: 0, Size: 4 * MiB}, {Base: 6 * MiB, Size: 2 * MiB}, {Base: 16 * MiB, Size: 4 * MiB}},
			kernel:   Kernel{End: 2 * MiB, InitrdAddrMax: 12 * MiB},
			wantAddr: 8*MiB - 8192},
		{name: "skips a region below the kernel's end",
			spans:    []guestmem.Span{{Base: 0, Size: 4 * MiB}, {Base: 6 * MiB, Size: 2 * MiB}},
			kernel:   Kernel{End: 7 * MiB, InitrdAddrMax: 12 * MiB},
			wantAddr: 8*MiB - 8192},
		{name: "empty", kernel: Kernel{End: 2 * MiB}, size: -1, wantErr: ErrInitrdEmpty},
		{name: "larger than RAM", kernel: Kernel{End: 2 * MiB}, size: 16 * MiB, wantErr: ErrInitrdDoesNotFit},
		{name: "no room above the kernel", kernel: Kernel{End: 8*MiB - 4096}, wantErr: ErrInitrdDoesNotFit},
		{name: "limit below the kernel", kernel: Kernel{End: 4 * MiB, InitrdAddrMax: 3 * MiB}, wantErr: ErrInitrdDoesNotFit},
		{name: "kernel end near 2^64", kernel: Kernel{End: 1<<64 - 10}, wantErr: ErrAddressOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := newMem(t, tt.spans...)
			data := initrd
			switch {
			case tt.size < 0:
				data = nil
			case tt.size > 0:
				data = bytes.Repeat([]byte{0x42}, tt.size)
			}
			got, err := LoadInitrd(mem, data, &tt.kernel)
			if tt.wantErr != nil {
				assertErrorIs(t, err, tt.wantErr)
				assertUntouched(t, mem)
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Addr != tt.wantAddr || got.Size != uint64(len(data)) {
				t.Errorf("initrd at %#x+%d, want %#x+%d", got.Addr, got.Size, tt.wantAddr, len(data))
			}
			if !bytes.Equal(readMem(t, mem, got.Addr, len(data)), data) {
				t.Error("initrd not in memory")
			}
		})
	}
}

func TestLoadInitrdNil(t *testing.T) {
	t.Parallel()
	mem := newMem(t)
	if _, err := LoadInitrd(mem, []byte{1}, nil); err == nil {
		t.Error("accepted a nil kernel")
	}
	if _, err := LoadInitrd(nil, []byte{1}, &Kernel{}); err == nil {
		t.Error("accepted nil memory")
	}
}
