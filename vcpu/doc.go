// Package vcpu runs one virtual CPU: a goroutine locked to its OS thread
// that loops on KVM_RUN and dispatches each exit.
//
// Port I/O and MMIO exits go to a bus.Bus; everything else ends the run with
// a decoded reason. A run ends when the guest resets or powers off (a
// GuestExit), when the guest faults in a way it cannot recover from (a
// *Fault: triple fault, an instruction KVM cannot emulate, entry failure), or
// when another goroutine calls Stop (ErrStopped).
//
// Stopping a vCPU that is inside the guest takes two steps, as in every
// KVM-based VMM: kvm_run.immediate_exit is set, so a KVM_RUN about to start
// returns at once, and the vCPU's thread is sent a signal, so a KVM_RUN
// already running returns with EINTR. The signal is SIGURG, which the Go
// runtime already uses for preemption and ignores when it is not expecting
// one.
package vcpu
