package loadertest

import "encoding/binary"

// BzImage describes a bzImage as the kernel's arch/x86/boot/tools/build.c
// lays it out: setup sectors with the setup header, then the protected-mode
// kernel (Code, standing in for the decompressor, followed by Payload).
type BzImage struct {
	SetupSects      uint8
	Version         uint16
	LoadFlags       uint8
	XLoadFlags      uint16
	KernelAlignment uint32
	Relocatable     bool
	PrefAddress     uint64
	// InitSize zero means the protected-mode size rounded up to 4 KiB.
	InitSize      uint32
	CmdlineSize   uint32
	InitrdAddrMax uint32
	KernelVersion string // "" leaves kernel_version 0
	Code          []byte // protected-mode bytes before the payload
	Payload       []byte // see Payload for how the kernel builds one
}

// NewBzImage returns a bzImage around payload with the header values of a
// Debian 6.1 kernel (protocol 2.15, relocatable, 64-bit entry,
// pref_address 16 MiB).
func NewBzImage(payload []byte) *BzImage {
	code := make([]byte, 0x400)
	for i := range code {
		code[i] = 0xf4 // hlt
	}
	return &BzImage{
		SetupSects:      4,
		Version:         0x020f,
		LoadFlags:       0x01, // LOADED_HIGH
		XLoadFlags:      0x7f, // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G | EFI...
		KernelAlignment: 0x200000,
		Relocatable:     true,
		PrefAddress:     0x1000000,
		CmdlineSize:     2047,
		InitrdAddrMax:   0x7fffffff,
		KernelVersion:   "6.1.0-test (loadertest) #1 SMP",
		Code:            code,
		Payload:         payload,
	}
}

// Setup header offsets the tests patch.
const (
	HdrSetupSects    = 0x1f1
	HdrSyssize       = 0x1f4
	HdrBootFlag      = 0x1fe
	HdrMagic         = 0x202
	HdrVersion       = 0x206
	HdrXLoadFlags    = 0x236
	HdrPayloadOffset = 0x248
	HdrPayloadLength = 0x24c
	HdrPrefAddress   = 0x258
	HdrInitSize      = 0x260
	HeaderEnd        = 0x26c // end of the 2.15 header: 0x202 + jump offset
)

// SetupSize returns the size of the setup part: the boot sector plus the
// setup sectors.
func (z *BzImage) SetupSize() int { return (int(z.SetupSects) + 1) * 512 }

// Bytes encodes the image.
func (z *BzImage) Bytes() []byte {
	le := binary.LittleEndian
	kernel := append(append([]byte(nil), z.Code...), z.Payload...)
	kernel = append(kernel, make([]byte, align16(len(kernel))-len(kernel))...)
	setup := make([]byte, z.SetupSize())
	setup[HdrSetupSects] = z.SetupSects
	le.PutUint32(setup[HdrSyssize:], uint32(len(kernel)/16))
	le.PutUint16(setup[HdrBootFlag:], 0xAA55)
	setup[0x200], setup[0x201] = 0xEB, HeaderEnd-HdrMagic
	copy(setup[HdrMagic:], "HdrS")
	le.PutUint16(setup[HdrVersion:], z.Version)
	if z.KernelVersion != "" {
		const at = 0x300 // in the setup code, after the header
		copy(setup[at:], z.KernelVersion+"\x00")
		le.PutUint16(setup[0x20e:], at-0x200)
	}
	setup[0x211] = z.LoadFlags
	le.PutUint32(setup[0x214:], 0x100000) // code32_start
	le.PutUint32(setup[0x22c:], z.InitrdAddrMax)
	le.PutUint32(setup[0x230:], z.KernelAlignment)
	if z.Relocatable {
		setup[0x234] = 1
	}
	setup[0x235] = 21 // min_alignment: 2 MiB
	le.PutUint16(setup[HdrXLoadFlags:], z.XLoadFlags)
	le.PutUint32(setup[0x238:], z.CmdlineSize)
	le.PutUint32(setup[HdrPayloadOffset:], uint32(len(z.Code)))
	le.PutUint32(setup[HdrPayloadLength:], uint32(len(z.Payload)))
	le.PutUint64(setup[HdrPrefAddress:], z.PrefAddress)
	initSize := z.InitSize
	if initSize == 0 {
		initSize = uint32(len(kernel)+4095) &^ 4095
	}
	le.PutUint32(setup[HdrInitSize:], initSize)
	return append(setup, kernel...)
}
