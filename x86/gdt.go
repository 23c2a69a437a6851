package x86

// The boot GDT, shared by the Linux 64-bit entry and the PVH 32-bit entry.
// The same table is written to guest memory at GDTAddr and decoded into the
// hidden segment-register state given to KVM, so the two always agree.

// Segment descriptors (Intel SDM vol. 3, 3.4.5), flat 4 GiB.
const (
	descCode64 uint64 = 0x00af_9b00_0000_ffff // L=1, present, execute/read, accessed
	descData   uint64 = 0x00cf_9300_0000_ffff // 32-bit, present, read/write, accessed
	descTSS    uint64 = 0x008f_8b00_0000_ffff // busy 32-bit TSS (needed for a valid TR)
	descCode32 uint64 = 0x00cf_9b00_0000_ffff // D=1, present, execute/read, accessed
)

// BootGDT is the table written at GDTAddr; selectors index into it.
var BootGDT = [...]uint64{0, descCode64, descData, descTSS, descCode32}

// Selectors into BootGDT.
const (
	SelCode64 = 1 << 3
	SelData   = 2 << 3
	SelTSS    = 3 << 3
	SelCode32 = 4 << 3
)

// Descriptor is a decoded segment descriptor: the fields KVM's
// struct kvm_segment carries.
type Descriptor struct {
	Base     uint64
	Limit    uint32 // in bytes, granularity already applied
	Type     uint8
	Present  bool
	DPL      uint8
	DB       bool
	S        bool
	L        bool
	G        bool
	AVL      bool
	Selector uint16
}

// DecodeDescriptor decodes BootGDT[sel>>3].
func DecodeDescriptor(sel uint16) Descriptor {
	d := BootGDT[sel>>3]
	limit := uint32(d&0xffff) | uint32(d>>48&0xf)<<16
	g := d>>55&1 == 1
	if g {
		limit = limit<<12 | 0xfff
	}
	return Descriptor{
		Base:     d>>16&0xff_ffff | (d>>56&0xff)<<24,
		Limit:    limit,
		Type:     uint8(d >> 40 & 0xf),
		S:        d>>44&1 == 1,
		DPL:      uint8(d >> 45 & 3),
		Present:  d>>47&1 == 1,
		AVL:      d>>52&1 == 1,
		L:        d>>53&1 == 1,
		DB:       d>>54&1 == 1,
		G:        g,
		Selector: sel,
	}
}
