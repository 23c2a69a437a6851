package vmm

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/x86"
)

// MSI-X delivery: every vector of every function has a GSI of its own, from
// x86.MSIGSIBase up, and an irqfd bound to it, so a device thread raises
// the vector with one eventfd write. What the GSI delivers is its route in
// KVM's GSI routing table: the vector's message, set when the guest
// programs the vector (pci calls Route before the first Signal after a
// change). Masked vectors never reach the sink: package pci holds them
// pending and signals on unmask.

// maxGSIRoutes is KVM's limit on routing entries (KVM_MAX_IRQ_ROUTES).
const maxGSIRoutes = 4096

// gsiRouter owns the VM's GSI routing table. KVM_SET_GSI_ROUTING replaces
// the whole table, so every update repeats the default routes of the
// IOAPIC pins and PIC inputs (the legacy devices, virtio-mmio and INTx
// need them) and every MSI route programmed so far.
type gsiRouter struct {
	install func([]kvm.GSIRoute) error // KVM_SET_GSI_ROUTING

	mu   sync.Mutex
	next uint32                  // next free MSI GSI
	msi  map[uint32]kvm.GSIRoute // programmed MSI routes by GSI
}

func newGSIRouter(install func([]kvm.GSIRoute) error) *gsiRouter {
	return &gsiRouter{install: install, next: x86.MSIGSIBase, msi: map[uint32]kvm.GSIRoute{}}
}

// allocate reserves n consecutive GSIs and returns the first.
func (r *gsiRouter) allocate(n int) (uint32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n < 0 || int(r.next)+n > maxGSIRoutes-len(defaultGSIRoutes()) {
		return 0, fmt.Errorf("vmm: no room for %d more MSI GSIs", n)
	}
	first := r.next
	r.next += uint32(n)
	return first, nil
}

// defaultGSIRoutes is KVM's initial routing: GSIs 0-15 to both PICs and
// the IOAPIC, 16-23 to the IOAPIC, GSI n to pin n.
func defaultGSIRoutes() []kvm.GSIRoute {
	var routes []kvm.GSIRoute
	for gsi := uint32(0); gsi < x86.IOAPICPins; gsi++ {
		if gsi < 8 {
			routes = append(routes, kvm.IRQChipRoute(gsi, kvm.KVM_IRQCHIP_PIC_MASTER, gsi))
		} else if gsi < 16 {
			routes = append(routes, kvm.IRQChipRoute(gsi, kvm.KVM_IRQCHIP_PIC_SLAVE, gsi-8))
		}
		routes = append(routes, kvm.IRQChipRoute(gsi, kvm.KVM_IRQCHIP_IOAPIC, gsi))
	}
	return routes
}

// setMSI routes gsi to msg and installs the whole table.
func (r *gsiRouter) setMSI(gsi uint32, msg pci.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msi[gsi] = kvm.MSIRoute(gsi, msg.Address, msg.Data)
	routes := defaultGSIRoutes()
	for _, g := range slices.Sorted(maps.Keys(r.msi)) {
		routes = append(routes, r.msi[g])
	}
	return r.install(routes)
}
