//go:build !glue_minimal

package vmm

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// newNotifyFD returns an eventfd that, once an ioeventfd binds it to queue
// q's notify address, runs notify(q) on the event loop; notify reports
// whether work is left, which is then queued behind other fds (bounded
// work per call).
func (dm *deviceManager) newNotifyFD(q int, notify func(q int) bool) (int, error) {
	fd, err := dm.newEventFD()
	if err != nil {
		return -1, err
	}
	var run func()
	run = func() {
		if notify(q) {
			dm.loop.Submit(run)
		}
	}
	return fd, dm.loop.Add(fd, unix.EPOLLIN, func(uint32) {
		drainEventFD(fd)
		run()
	})
}

// newEventFD returns an eventfd the device manager closes, after the event
// loop, in close (KVM drops its irqfd and ioeventfd bindings with the VM).
func (dm *deviceManager) newEventFD() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return -1, fmt.Errorf("vmm: eventfd: %w", err)
	}
	dm.eventFDs = append(dm.eventFDs, fd)
	return fd, nil
}

func drainEventFD(fd int) {
	var buf [8]byte
	unix.Read(fd, buf[:])
}

// signalEventFD adds one to the eventfd: an irqfd's interrupt.
func signalEventFD(fd int) {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(fd, one[:])
}
