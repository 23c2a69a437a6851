package x86

import "github.com/gluevmm/glue/kvm"

// Model-specific registers glue initializes (Intel SDM vol. 4).
const (
	MSRIA32TSC         = 0x10
	MSRIA32SysenterCS  = 0x174
	MSRIA32SysenterESP = 0x175
	MSRIA32SysenterEIP = 0x176
	MSRIA32MiscEnable  = 0x1a0
	MSRMTRRDefType     = 0x2ff
	MSRSTAR            = 0xc000_0081
	MSRLSTAR           = 0xc000_0082
	MSRCSTAR           = 0xc000_0083
	MSRSyscallMask     = 0xc000_0084
	MSRKernelGSBase    = 0xc000_0102
)

// MSR bits.
const (
	MiscEnableFastString = 1 << 0  // IA32_MISC_ENABLE: fast-string operations
	MTRRDefTypeEnable    = 1 << 11 // IA32_MTRR_DEF_TYPE.E: MTRRs enabled
	MTRRMemTypeWB        = 0x6     // write-back

	// MTRRDefTypeBoot is IA32_MTRR_DEF_TYPE at boot: enabled, default WB (0x806).
	MTRRDefTypeBoot = MTRRDefTypeEnable | MTRRMemTypeWB
)

// BootMSRs returns the MSR values every vCPU starts with, as Firecracker
// sets them: the syscall/sysenter entry points cleared (a fresh kernel sets
// its own), the TSC at zero, fast strings on, and MTRRs enabled with
// write-back as the default type, so that all of RAM is cacheable without
// the guest programming variable MTRRs.
func BootMSRs() []kvm.MSREntry {
	return []kvm.MSREntry{
		{Index: MSRIA32SysenterCS},
		{Index: MSRIA32SysenterESP},
		{Index: MSRIA32SysenterEIP},
		{Index: MSRSTAR},
		{Index: MSRCSTAR},
		{Index: MSRKernelGSBase},
		{Index: MSRSyscallMask},
		{Index: MSRLSTAR},
		{Index: MSRIA32TSC},
		{Index: MSRIA32MiscEnable, Data: MiscEnableFastString},
		{Index: MSRMTRRDefType, Data: MTRRDefTypeBoot},
	}
}
