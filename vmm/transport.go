package vmm

import (
	"slices"

	"github.com/gluevmm/glue/x86"
)

// Transport names a virtio transport: how a device appears to the guest.
type Transport string

// The transports. Over PCI (modern virtio-pci, MSI-X) every stock x86-64
// kernel finds a device; over MMIO only kernels with virtio_mmio, which
// microVM kernels have, but the guest needs no PCI enumeration and boots
// faster.
const (
	TransportDefault Transport = ""
	TransportPCI     Transport = "pci"
	TransportMMIO    Transport = "mmio"
)

// The transports are optional components too: build tags glue_no_pci and
// glue_no_mmio leave one out (transport_pci*.go, transport_mmio*.go), and
// glue_minimal both. A config that names a left-out transport is refused.
var (
	pciComponent  = Component{Name: "virtio-pci", Tag: "glue_no_pci", Field: FieldTransport}
	mmioComponent = Component{Name: "virtio-mmio", Tag: "glue_no_mmio", Field: FieldTransport}
)

// transportOf resolves a device's transport: its own, else the VM's, else
// PCI when this build has it, else MMIO.
func (c *Config) transportOf(own Transport) Transport {
	switch {
	case own != TransportDefault:
		return own
	case c.Transport != TransportDefault:
		return c.Transport
	case pciLinked || !mmioLinked:
		return TransportPCI
	}
	return TransportMMIO
}

// deviceTransports lists the transport of every virtio device cfg asks
// for, in device order.
func (c *Config) deviceTransports() []Transport {
	var ts []Transport
	for _, d := range c.Disks {
		ts = append(ts, c.transportOf(d.Transport))
	}
	for _, n := range c.Nets {
		ts = append(ts, c.transportOf(n.Transport))
	}
	if c.RNG {
		ts = append(ts, c.transportOf(c.RNGTransport))
	}
	if c.ConsoleDevice == ConsoleVirtio {
		ts = append(ts, c.transportOf(c.ConsoleTransport))
	}
	if c.Balloon != nil {
		ts = append(ts, c.transportOf(c.Balloon.Transport))
	}
	if c.Vsock != nil {
		ts = append(ts, c.transportOf(c.Vsock.Transport))
	}
	return ts
}

// namedTransports lists every transport cfg names, for itself and its
// devices, TransportDefault included.
func (c *Config) namedTransports() []Transport {
	named := []Transport{c.Transport, c.RNGTransport, c.ConsoleTransport}
	for _, d := range c.Disks {
		named = append(named, d.Transport)
	}
	for _, n := range c.Nets {
		named = append(named, n.Transport)
	}
	if c.Balloon != nil {
		named = append(named, c.Balloon.Transport)
	}
	if c.Vsock != nil {
		named = append(named, c.Vsock.Transport)
	}
	return named
}

// wantsTransport reports whether cfg names t, for itself or a device.
func (c *Config) wantsTransport(t Transport) bool {
	return slices.Contains(c.namedTransports(), t)
}

// checkTransports refuses unknown transport names and more devices on a
// transport than it has room for: an interrupt line each on MMIO, a slot
// each on PCI.
func (c *Config) checkTransports() error {
	for _, t := range c.namedTransports() {
		if t != TransportDefault && t != TransportPCI && t != TransportMMIO {
			return configErr(FieldTransport, "unknown transport %q (want %q or %q)", t, TransportPCI, TransportMMIO)
		}
	}
	var pci, mmio int
	for _, t := range c.deviceTransports() {
		if t == TransportPCI {
			pci++
		} else {
			mmio++
		}
	}
	if mmio > x86.MaxVirtioDevices {
		return configErr(FieldTransport, "%d virtio-mmio devices: at most %d", mmio, x86.MaxVirtioDevices)
	}
	if pci > x86.MaxPCIDevices {
		return configErr(FieldTransport, "%d virtio-pci devices: at most %d", pci, x86.MaxPCIDevices)
	}
	return nil
}
