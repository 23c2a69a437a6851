// Package nested runs tier 4 (docs/testing.md) where /dev/kvm cannot boot
// a stock kernel: inside a machine emulated by QEMU's TCG with an AMD CPU
// model that has SVM, whose own Linux loads kvm_amd and runs glue. It
// builds the outer initramfs (a static glue, the KVM modules of the test
// kernel's package, the inner kernel and initramfs, the outer init in
// ./outerinit and a plan naming the scenarios of test/scenario), boots it,
// and reads the outer init's markers back into one result per scenario.
package nested
