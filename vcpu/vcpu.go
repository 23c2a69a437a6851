package vcpu

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
)

// ErrStopped is returned by Run after Stop.
var ErrStopped = errors.New("vcpu stopped")

// GuestExit is a clean end requested by the guest (KVM_EXIT_SYSTEM_EVENT
// shutdown or reset).
type GuestExit struct {
	Reason string // "reset" or "power-off"
}

func (e *GuestExit) Error() string { return "guest " + e.Reason }

// Config is what a vCPU needs to run.
type Config struct {
	VCPU   *kvm.VCPU
	PIO    *bus.Bus         // port I/O space
	MMIO   *bus.Bus         // MMIO space (guest-physical addresses without RAM)
	Mem    *guestmem.Memory // read to describe faults
	Logger *slog.Logger
}

// VCPU runs one kvm.VCPU. Run is called once, from the goroutine that will
// own it; Pause, Resume and Stop may be called from anywhere, any number of
// times (see state.go).
type VCPU struct {
	cfg   Config
	log   *slog.Logger
	tid   atomic.Int32 // OS thread running Run, 0 when none
	state stateMachine
}

// New prepares a vCPU runner; nothing runs until Run.
func New(cfg Config) *VCPU {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &VCPU{cfg: cfg, log: log.With("vcpu", cfg.VCPU.ID())}
	v.state.init()
	return v
}

// Run enters the guest and handles exits until the run ends; it returns
// ErrStopped, a *GuestExit or a *Fault, or another error when KVM itself
// fails. It locks the calling goroutine to its OS thread for the duration.
func (v *VCPU) Run() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	v.tid.Store(int32(unix.Gettid()))
	defer v.tid.Store(0)
	defer v.state.ended()

	kv := v.cfg.VCPU
	backoff := time.Duration(0)
	for {
		if v.state.requested() != Running && !v.park() {
			return ErrStopped
		}
		exit, err := kv.Run()
		if err != nil {
			return err
		}
		if exit.Kind != kvm.ExitRetry {
			backoff = 0
		}
		switch exit.Kind {
		case kvm.ExitIO:
			v.handleIO(&exit.IO)
		case kvm.ExitMMIO:
			v.handleMMIO(&exit.MMIO)
		case kvm.ExitInterrupted:
			// A kick, or a stray runtime signal. Clearing before the check
			// at the top of the loop cannot lose a request: requests are
			// recorded before immediate_exit is set.
			kv.SetImmediateExit(false)
		case kvm.ExitRetry:
			// An AP waiting for INIT/SIPI on a host whose KVM_RUN does not
			// block in that state: back off instead of spinning a core.
			backoff = min(max(2*backoff, 10*time.Microsecond), 5*time.Millisecond)
			time.Sleep(backoff)
		case kvm.ExitHLT, kvm.ExitDebug:
			// With the in-kernel LAPIC, HLT is handled in the kernel; a stray
			// one (or a debug exit without a debugger) is just resumed.
		case kvm.ExitSystemEvent:
			return v.systemEvent(exit.SystemEvent)
		default:
			return v.fault(exit)
		}
	}
}

// kick makes the vCPU thread leave KVM_RUN (or not enter it) so that it
// looks at its requested state.
func (v *VCPU) kick() {
	v.cfg.VCPU.SetImmediateExit(true)
	if tid := v.tid.Load(); tid != 0 {
		// ESRCH only means the thread already left Run.
		unix.Tgkill(unix.Getpid(), int(tid), unix.SIGURG)
	}
}

func (v *VCPU) handleIO(io *kvm.IOExit) {
	size := int(io.Size)
	if size == 0 {
		return
	}
	for off := 0; off+size <= len(io.Data); off += size {
		item := io.Data[off : off+size]
		var claimed bool
		if io.Direction == kvm.IOOut {
			claimed = v.cfg.PIO.Write(uint64(io.Port), item)
		} else {
			claimed = v.cfg.PIO.Read(uint64(io.Port), item)
		}
		if !claimed && v.log.Enabled(context.Background(), slog.LevelDebug) {
			v.log.Debug("unhandled port I/O", "dir", io.Direction.String(), "port", io.Port, "size", size)
		}
	}
}

func (v *VCPU) handleMMIO(m *kvm.MMIOExit) {
	var claimed bool
	if m.IsWrite {
		claimed = v.cfg.MMIO.Write(m.Addr, m.Data)
	} else {
		claimed = v.cfg.MMIO.Read(m.Addr, m.Data)
	}
	if !claimed && v.log.Enabled(context.Background(), slog.LevelDebug) {
		v.log.Debug("unhandled MMIO", "write", m.IsWrite, "addr", m.Addr, "len", m.Len)
	}
}

func (v *VCPU) systemEvent(ev kvm.SystemEventExit) error {
	switch ev.Type {
	case kvm.KVM_SYSTEM_EVENT_RESET:
		return &GuestExit{Reason: "reset"}
	case kvm.KVM_SYSTEM_EVENT_SHUTDOWN:
		return &GuestExit{Reason: "power-off"}
	}
	return v.fault(kvm.Exit{Kind: kvm.ExitSystemEvent, SystemEvent: ev})
}
