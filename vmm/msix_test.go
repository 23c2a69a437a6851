package vmm

import (
	"slices"
	"testing"

	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/x86"
)

// Every routing update installs the whole table: KVM's default routes for
// the IOAPIC pins and PICs (which KVM_SET_GSI_ROUTING would otherwise
// drop), then every MSI route so far, a re-programmed vector replacing its
// old message.
func TestGSIRouterKeepsTheWholeTable(t *testing.T) {
	t.Parallel()
	var installed [][]kvm.GSIRoute
	r := newGSIRouter(func(routes []kvm.GSIRoute) error {
		installed = append(installed, routes)
		return nil
	})
	first, err := r.allocate(3)
	if err != nil || first != x86.MSIGSIBase {
		t.Fatalf("allocate(3) = %d, %v; want %d", first, err, x86.MSIGSIBase)
	}
	if next, _ := r.allocate(1); next != first+3 {
		t.Errorf("second allocation at %d, want %d", next, first+3)
	}
	r.setMSI(first+1, pci.Message{Address: 0xfee0_0000, Data: 0x41})
	r.setMSI(first, pci.Message{Address: 0xfee0_1000, Data: 0x42})
	r.setMSI(first+1, pci.Message{Address: 0xfee0_0000, Data: 0x43})

	last := installed[len(installed)-1]
	defaults := defaultGSIRoutes()
	if !slices.Equal(last[:len(defaults)], defaults) {
		t.Errorf("the table does not start with KVM's default routes")
	}
	want := []kvm.GSIRoute{kvm.MSIRoute(first, 0xfee0_1000, 0x42), kvm.MSIRoute(first+1, 0xfee0_0000, 0x43)}
	if got := last[len(defaults):]; !slices.Equal(got, want) {
		t.Errorf("MSI routes %v, want %v", got, want)
	}
	// 16 PIC inputs and 24 IOAPIC pins, GSI n on pin n.
	if len(defaults) != 16+x86.IOAPICPins {
		t.Errorf("%d default routes, want %d", len(defaults), 16+x86.IOAPICPins)
	}
	if !slices.Contains(defaults, kvm.IRQChipRoute(x86.PCIINTxGSIBase, kvm.KVM_IRQCHIP_IOAPIC, x86.PCIINTxGSIBase)) ||
		!slices.Contains(defaults, kvm.IRQChipRoute(12, kvm.KVM_IRQCHIP_PIC_SLAVE, 4)) {
		t.Error("default routes lack the IOAPIC pin of INTx A or the slave PIC's IRQ 12")
	}
}

// GSIs run out at KVM's limit, not past it.
func TestGSIRouterLimit(t *testing.T) {
	t.Parallel()
	r := newGSIRouter(func([]kvm.GSIRoute) error { return nil })
	room := maxGSIRoutes - len(defaultGSIRoutes()) - x86.MSIGSIBase
	if _, err := r.allocate(room); err != nil {
		t.Fatalf("allocate(%d): %v", room, err)
	}
	if _, err := r.allocate(1); err == nil {
		t.Error("allocated a GSI past KVM's routing limit")
	}
}
