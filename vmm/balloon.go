package vmm

import (
	"context"
	"fmt"
	"math"

	"github.com/gluevmm/glue/control"
)

// balloonControl is the balloon device as the control plane drives it
// (device_balloon.go).
type balloonControl interface {
	setTarget(pages uint32)
	// status asks the guest for fresh statistics, waits a moment for
	// them, and reports.
	status(ctx context.Context) control.BalloonStatus
}

// balloonPagesPerMiB: the balloon counts 4 KiB pages.
const balloonPagesPerMiB = 256

// Balloon sets the balloon's target, if targetMiB is not nil, to that much
// memory taken from the guest (0 gives it all back), then reports the
// device's state and the guest's latest statistics. The guest follows the
// target in its own time: ActualBytes says how far it got. It fails with
// control.CodeUnavailable when the VM has no balloon device, and with
// control.CodeBadRequest for a target over the VM's memory.
func (vm *VM) Balloon(ctx context.Context, targetMiB *uint64) (control.BalloonStatus, error) {
	b := vm.devices.balloon
	if b == nil {
		return control.BalloonStatus{}, &control.Error{Code: control.CodeUnavailable, Message: "this VM has no balloon device (glue run --balloon)"}
	}
	if targetMiB != nil {
		if *targetMiB > vm.cfg.MemMiB || *targetMiB > math.MaxUint32/balloonPagesPerMiB {
			return control.BalloonStatus{}, &control.Error{Code: control.CodeBadRequest,
				Message: fmt.Sprintf("balloon target %d MiB is more than the VM's %d MiB", *targetMiB, vm.cfg.MemMiB)}
		}
		b.setTarget(uint32(*targetMiB * balloonPagesPerMiB))
		vm.log.Info("balloon target set", "name", vm.cfg.Name, "target_mib", *targetMiB)
	}
	return b.status(ctx), nil
}
