package kvm

import (
	"encoding/binary"
	"fmt"
)

// IRQLine sets the level of an interrupt line of the in-kernel irqchip
// (KVM_IRQ_LINE): with the default routing, irq is both a PIC and an IOAPIC
// input. Edge-triggered devices raise then lower it.
func (vm *VM) IRQLine(irq uint32, level bool) error {
	req := irqLevel{Irq: irq}
	if level {
		req.Level = 1
	}
	if _, err := ioctlPtr(vm.fd, KVM_IRQ_LINE, &req); err != nil {
		return fmt.Errorf("kvm: irq line %d=%t: %w", irq, level, err)
	}
	return nil
}

// GSIRoute is one entry of a VM's GSI routing table: where an interrupt
// raised on GSI goes. Build it with IRQChipRoute or MSIRoute.
type GSIRoute struct {
	GSI  uint32
	kind uint32 // KVM_IRQ_ROUTING_*
	// For KVM_IRQ_ROUTING_IRQCHIP.
	chip, pin uint32
	// For KVM_IRQ_ROUTING_MSI.
	msiAddr uint64
	msiData uint32
}

// IRQChipRoute routes gsi to input pin of an in-kernel interrupt controller
// (KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE or KVM_IRQCHIP_IOAPIC).
func IRQChipRoute(gsi, chip, pin uint32) GSIRoute {
	return GSIRoute{GSI: gsi, kind: KVM_IRQ_ROUTING_IRQCHIP, chip: chip, pin: pin}
}

// MSIRoute routes gsi to a message-signalled interrupt: a write of data to
// addr in the guest's APIC address space.
func MSIRoute(gsi uint32, addr uint64, data uint32) GSIRoute {
	return GSIRoute{GSI: gsi, kind: KVM_IRQ_ROUTING_MSI, msiAddr: addr, msiData: data}
}

// encode fills a kvm_irq_routing_entry; its union u is laid out by hand as
// struct kvm_irq_routing_irqchip {irqchip, pin} or struct kvm_irq_routing_msi
// {address_lo, address_hi, data}.
func (r GSIRoute) encode(e *irqRoutingEntry) {
	*e = irqRoutingEntry{Gsi: r.GSI, Type: r.kind}
	switch r.kind {
	case KVM_IRQ_ROUTING_IRQCHIP:
		binary.LittleEndian.PutUint32(e.U[0:], r.chip)
		binary.LittleEndian.PutUint32(e.U[4:], r.pin)
	case KVM_IRQ_ROUTING_MSI:
		binary.LittleEndian.PutUint32(e.U[0:], uint32(r.msiAddr))
		binary.LittleEndian.PutUint32(e.U[4:], uint32(r.msiAddr>>32))
		binary.LittleEndian.PutUint32(e.U[8:], r.msiData)
	}
}

// SetGSIRouting replaces the VM's whole GSI routing table
// (KVM_SET_GSI_ROUTING). The table KVM starts with maps GSIs 0-15 to the
// PICs and 0-23 to the IOAPIC; a replacement must repeat those routes to keep
// them.
func (vm *VM) SetGSIRouting(routes []GSIRoute) error {
	buf := newFlexBuffer[irqRoutingHeader, irqRoutingEntry](len(routes))
	buf.Header.Nr = uint32(len(routes))
	for i, r := range routes {
		if r.kind == 0 {
			return fmt.Errorf("kvm: set gsi routing: route %d (gsi %d) has no target", i, r.GSI)
		}
		r.encode(&buf.Entries[i])
	}
	if _, err := buf.ioctl(vm.fd, KVM_SET_GSI_ROUTING); err != nil {
		return fmt.Errorf("kvm: set gsi routing (%d routes): %w", len(routes), err)
	}
	return nil
}

// IRQFD makes every write to eventfd fd raise gsi (KVM_IRQFD), so a device
// thread can interrupt the guest without a VMM round trip. The interrupt is
// edge-like: KVM raises and lowers the line.
func (vm *VM) IRQFD(fd int, gsi uint32) error {
	req := irqfdRequest{Fd: uint32(fd), Gsi: gsi}
	if _, err := ioctlPtr(vm.fd, KVM_IRQFD, &req); err != nil {
		return fmt.Errorf("kvm: irqfd %d -> gsi %d: %w", fd, gsi, err)
	}
	return nil
}

// IRQFDResample is IRQFD for a level-triggered line: a write to fd asserts
// gsi, which stays asserted until the guest EOIs it; KVM then lowers it and
// signals eventfd resampleFD, so the device can re-assert if still pending.
func (vm *VM) IRQFDResample(fd, resampleFD int, gsi uint32) error {
	req := irqfdRequest{Fd: uint32(fd), Gsi: gsi, Flags: KVM_IRQFD_FLAG_RESAMPLE, Resamplefd: uint32(resampleFD)}
	if _, err := ioctlPtr(vm.fd, KVM_IRQFD, &req); err != nil {
		return fmt.Errorf("kvm: irqfd %d (resample %d) -> gsi %d: %w", fd, resampleFD, gsi, err)
	}
	return nil
}

// DeassignIRQFD undoes IRQFD or IRQFDResample for the same fd and gsi.
func (vm *VM) DeassignIRQFD(fd int, gsi uint32) error {
	req := irqfdRequest{Fd: uint32(fd), Gsi: gsi, Flags: KVM_IRQFD_FLAG_DEASSIGN}
	if _, err := ioctlPtr(vm.fd, KVM_IRQFD, &req); err != nil {
		return fmt.Errorf("kvm: deassign irqfd %d from gsi %d: %w", fd, gsi, err)
	}
	return nil
}

// IOEvent describes an ioeventfd: a guest write of Len bytes to Addr (a port
// if PIO, else guest-physical MMIO) signals eventfd FD inside KVM instead of
// exiting to the VMM. With DataMatch, only writes of the value Data do.
type IOEvent struct {
	FD        int
	Addr      uint64
	Len       uint32 // 1, 2, 4 or 8; 0 matches any length (MMIO only)
	PIO       bool
	DataMatch bool
	Data      uint64
}

func (e IOEvent) request(deassign bool) ioeventfdRequest {
	req := ioeventfdRequest{Addr: e.Addr, Len: e.Len, Fd: int32(e.FD)}
	if e.PIO {
		req.Flags |= KVM_IOEVENTFD_FLAG_PIO
	}
	if e.DataMatch {
		req.Flags |= KVM_IOEVENTFD_FLAG_DATAMATCH
		req.Datamatch = e.Data
	}
	if deassign {
		req.Flags |= KVM_IOEVENTFD_FLAG_DEASSIGN
	}
	return req
}

func (e IOEvent) String() string {
	space := "mmio"
	if e.PIO {
		space = "pio"
	}
	s := fmt.Sprintf("fd %d on %s %#x len %d", e.FD, space, e.Addr, e.Len)
	if e.DataMatch {
		s += fmt.Sprintf(" data %#x", e.Data)
	}
	return s
}

// IOEventFD registers an ioeventfd (KVM_IOEVENTFD).
func (vm *VM) IOEventFD(e IOEvent) error {
	req := e.request(false)
	if _, err := ioctlPtr(vm.fd, KVM_IOEVENTFD, &req); err != nil {
		return fmt.Errorf("kvm: ioeventfd %v: %w", e, err)
	}
	return nil
}

// DeassignIOEventFD removes an ioeventfd registered with the same IOEvent.
func (vm *VM) DeassignIOEventFD(e IOEvent) error {
	req := e.request(true)
	if _, err := ioctlPtr(vm.fd, KVM_IOEVENTFD, &req); err != nil {
		return fmt.Errorf("kvm: deassign ioeventfd %v: %w", e, err)
	}
	return nil
}

// SignalMSI injects a message-signalled interrupt (KVM_SIGNAL_MSI). It
// reports false when the guest had the interrupt blocked (masked or
// disabled), which is not an error. When no LAPIC matches the destination
// the kernel returns -1, which reads as EPERM.
func (vm *VM) SignalMSI(addr uint64, data uint32) (delivered bool, err error) {
	req := msiRequest{Lo: uint32(addr), Hi: uint32(addr >> 32), Data: data}
	n, err := ioctlPtr(vm.fd, KVM_SIGNAL_MSI, &req)
	if err != nil {
		return false, fmt.Errorf("kvm: signal msi addr %#x data %#x: %w", addr, data, err)
	}
	return n > 0, nil
}
