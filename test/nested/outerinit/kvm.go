package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/gluevmm/glue/test/machineinit"
	"github.com/gluevmm/glue/test/nested/plan"
)

// loadModules loads the modules of plan.LoadOrderFile in order, as the
// test init does: kvm's dependencies, kvm, kvm_amd.
func loadModules() error {
	return machineinit.LoadModules(plan.ModuleDir, plan.LoadOrderFile)
}

// kvmAPIVersion opens /dev/kvm and asks for KVM_GET_API_VERSION: the
// modules loaded and the emulated CPU has SVM.
func kvmAPIVersion() (int, error) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("no /dev/kvm after loading the modules (does the CPU model have svm?): %w", err)
	}
	defer f.Close()
	const kvmGetAPIVersion = 0xae00 // _IO(KVMIO, 0x00)
	v, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmGetAPIVersion, 0)
	if errno != 0 {
		return 0, fmt.Errorf("KVM_GET_API_VERSION: %w", errno)
	}
	return int(v), nil
}
