package pci

// Capability IDs used by glue.
const (
	CapabilityVendor = 0x09 // vendor-specific; virtio-pci's structures use it
	CapabilityMSIX   = 0x11
)

// Capability is one entry of a function's capability list. The pci package
// owns the first two bytes (the ID and the next pointer) and links the list;
// the capability owns the rest.
//
// ReadCapability and WriteCapability receive accesses to the body: offset is
// relative to the capability's first byte and at least 2, and the access
// lies inside [2, Len()). They run on the vCPU that made the configuration
// access, without the function's lock held, so they may call the Function's
// methods; they must not make configuration accesses through the Root.
type Capability interface {
	ID() uint8
	Len() int // in bytes, including the two header bytes
	ReadCapability(offset int, data []byte)
	WriteCapability(offset int, data []byte)
}

// VendorCapability is a read-only vendor-specific capability (ID 0x09).
// Body is everything after the ID and next pointer; by convention Body[0]
// is the capability length, which NewVendorCapability fills in.
type VendorCapability struct {
	body []byte
}

// NewVendorCapability returns a vendor-specific capability whose bytes after
// the header are payload, preceded by the cap_len byte (2+1+len(payload)).
// Device models whose capability has writable fields (virtio's
// VIRTIO_PCI_CAP_PCI_CFG) implement Capability themselves.
func NewVendorCapability(payload []byte) *VendorCapability {
	body := make([]byte, 1+len(payload))
	body[0] = byte(2 + len(body))
	copy(body[1:], payload)
	return &VendorCapability{body: body}
}

func (*VendorCapability) ID() uint8  { return CapabilityVendor }
func (v *VendorCapability) Len() int { return 2 + len(v.body) }

func (v *VendorCapability) ReadCapability(offset int, data []byte) {
	copy(data, v.body[offset-2:])
}

// WriteCapability ignores the write: every field is read-only.
func (*VendorCapability) WriteCapability(int, []byte) {}
