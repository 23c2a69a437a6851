//go:build !glue_no_pci && !glue_minimal

package vmm

import (
	"fmt"
	"log/slog"

	"github.com/gluevmm/glue/pci"
)

// msixSink is one function's MSI-X sink: vector i is GSI first+i, raised
// through irqFDs[i].
type msixSink struct {
	router *gsiRouter
	first  uint32
	irqFDs []int
	log    *slog.Logger
}

// newMSIXSink allocates vectors GSIs and binds an irqfd to each.
func (dm *deviceManager) newMSIXSink(vectors int, log *slog.Logger) (*msixSink, error) {
	first, err := dm.gsis.allocate(vectors)
	if err != nil {
		return nil, err
	}
	s := &msixSink{router: dm.gsis, first: first, log: log}
	for v := range vectors {
		fd, err := dm.newEventFD()
		if err != nil {
			return nil, err
		}
		if err := dm.vm.IRQFD(fd, first+uint32(v)); err != nil {
			return nil, err
		}
		s.irqFDs = append(s.irqFDs, fd)
	}
	return s, nil
}

// Route installs the vector's new message as its GSI's route.
func (s *msixSink) Route(vector int, msg pci.Message) {
	if vector < 0 || vector >= len(s.irqFDs) {
		return
	}
	if err := s.router.setMSI(s.first+uint32(vector), msg); err != nil {
		s.log.Warn("route MSI-X vector", "vector", vector, "address", fmt.Sprintf("%#x", msg.Address), "data", fmt.Sprintf("%#x", msg.Data), "err", err)
	}
}

// Signal raises the vector through its irqfd.
func (s *msixSink) Signal(vector int) {
	if vector >= 0 && vector < len(s.irqFDs) {
		signalEventFD(s.irqFDs[vector])
	}
}
