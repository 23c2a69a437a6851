package x86

import (
	"fmt"
	"math/bits"

	"github.com/gluevmm/glue/kvm"
)

// CPUID leaves and bits FilterCPUID rewrites (Intel SDM vol. 2A, CPUID; AMD
// APM vol. 3, appendix E).
const (
	leafFeatures         = 0x1
	leafCacheParams      = 0x4 // Intel deterministic cache parameters
	leafPowerMgmt        = 0x6
	leafPerfMon          = 0xa
	leafTopology         = 0xb
	leafTopologyV2       = 0x1f
	leafAMDFeatures      = 0x8000_0001
	leafAMDAddressSizes  = 0x8000_0008
	leafAMDCacheTopology = 0x8000_001d
	leafAMDProcTopology  = 0x8000_001e
	leafAMDExtPerfMon    = 0x8000_0022 // PerfMonV2, LBR stack, counter counts

	featureECXPDCM       = 1 << 15 // IA32_PERF_CAPABILITIES MSR
	featureECXHypervisor = 1 << 31
	featureEDXHTT        = 1 << 28 // EBX[23:16] is meaningful

	powerMgmtEAXARAT = 1 << 2 // the APIC timer keeps running in deep C-states

	// AMD's performance-counter extensions in leaf 0x80000001 ECX: six core
	// counters at MSRs 0xc0010200.. (PerfCtrExtCore), the northbridge
	// counters (PerfCtrExtNB), the performance TSC (PerfTsc) and the last
	// level cache counters (PerfCtrExtLLC).
	amdECXPerfCtrExtCore = 1 << 23
	amdECXPerfCtrExtNB   = 1 << 24
	amdECXPerfTsc        = 1 << 27
	amdECXPerfCtrExtLLC  = 1 << 28
	amdECXPMU            = amdECXPerfCtrExtCore | amdECXPerfCtrExtNB | amdECXPerfTsc | amdECXPerfCtrExtLLC

	topologyLevelSMT  = 1
	topologyLevelCore = 2
)

// FilterCPUID derives vCPU cpuID's CPUID table from what KVM supports
// (System.GetSupportedCPUID), for a VM of nCPUs vCPUs. The topology it
// describes is one package of nCPUs cores with one thread each, so a vCPU's
// APIC ID is its index. supported is not modified.
//
// Besides the topology it:
//   - sets the hypervisor bit (leaf 1 ECX[31]), which makes the guest look
//     for the KVM leaves 0x40000000/0x40000001; those are kept as KVM
//     reports them;
//   - keeps only ARAT in leaf 6: turbo, HWP, energy-bias and thermal
//     features come with MSRs KVM does not emulate, and a guest driver that
//     trusts them takes #GP on the first access;
//   - hides the performance-monitoring features: glue gives the guest no
//     virtual PMU, so the guest must not program performance counters
//     that, under nested virtualization in particular, are absent or leak
//     host activity. For Intel that is leaf 0xA (zeroed) and PDCM (leaf 1
//     ECX[15]); for AMD the counter extensions of leaf 0x80000001 ECX
//     (amdECXPMU) and leaf 0x80000022 (zeroed). AMD has no CPUID bit for
//     its four legacy counters (MSRs 0xc0010000-0xc0010007): Linux
//     probes them on every AMD CPU of family 6 or later, so those
//     accesses stay, and KVM answers them.
func FilterCPUID(supported []kvm.CPUIDEntry, cpuID, nCPUs int) ([]kvm.CPUIDEntry, error) {
	if nCPUs < 1 || cpuID < 0 || cpuID >= nCPUs {
		return nil, fmt.Errorf("x86: filter cpuid: vcpu %d of %d", cpuID, nCPUs)
	}
	apicID := uint32(cpuID)
	n := uint32(nCPUs)
	out := make([]kvm.CPUIDEntry, 0, len(supported)+2)
	topologyDone := map[uint32]bool{}
	for _, e := range supported {
		switch e.Function {
		case leafFeatures:
			e.Ebx = e.Ebx&0x0000_ffff | min(n, 0xff)<<16 | (apicID&0xff)<<24
			e.Ecx = e.Ecx&^featureECXPDCM | featureECXHypervisor
			e.Edx &^= featureEDXHTT
			if nCPUs > 1 {
				e.Edx |= featureEDXHTT
			}
		case leafCacheParams:
			e.Eax = cacheSharing(e.Eax, e.Eax&0x1f, e.Eax>>5&0x7, n)
			if e.Eax&0x1f != 0 { // a null subleaf ends the list and stays zero
				e.Eax = e.Eax&^(0x3f<<26) | (min(n, 64)-1)<<26
			}
		case leafPowerMgmt:
			e.Eax &= powerMgmtEAXARAT
			e.Ebx, e.Ecx, e.Edx = 0, 0, 0
		case leafPerfMon, leafAMDExtPerfMon:
			e.Eax, e.Ebx, e.Ecx, e.Edx = 0, 0, 0, 0
		case leafAMDFeatures:
			e.Ecx &^= amdECXPMU
		case leafTopology, leafTopologyV2:
			// Replace the host's levels with ours, once, where the leaf was.
			if !topologyDone[e.Function] {
				topologyDone[e.Function] = true
				out = append(out, topologyLeaf(e.Function, apicID, n)...)
			}
			continue
		case leafAMDAddressSizes:
			// ECX[15:12] APIC ID bits per package, ECX[7:0] cores - 1.
			e.Ecx = e.Ecx&^0xf0ff | uint32(apicIDBits(n))<<12 | (min(n, 256) - 1)
		case leafAMDCacheTopology:
			e.Eax = cacheSharing(e.Eax, e.Eax&0x1f, e.Eax>>5&0x7, n)
		case leafAMDProcTopology:
			// EAX extended APIC ID; EBX[7:0] core ID, [15:8] threads per
			// core - 1; ECX node 0 of 1.
			e.Eax, e.Ebx, e.Ecx = apicID, apicID&0xff, 0
		}
		out = append(out, e)
	}
	return out, nil
}

// cacheSharing sets EAX[25:14] of a leaf 4 or 0x8000001d subleaf, the number
// of logical processors sharing the cache minus one: L1 and L2 are private
// to a core (one thread), L3 is shared by the package.
func cacheSharing(eax, cacheType, level, nCPUs uint32) uint32 {
	if cacheType == 0 {
		return eax
	}
	sharing := uint32(0)
	if level >= 3 {
		sharing = min(nCPUs, 1<<12) - 1
	}
	return eax&^(0xfff<<14) | sharing<<14
}

// topologyLeaf builds leaf 0xB or 0x1F (extended topology): an SMT level of
// one thread, a core level of nCPUs cores, and the invalid level that ends
// the list. EDX is the x2APIC ID on every subleaf.
func topologyLeaf(function, apicID, nCPUs uint32) []kvm.CPUIDEntry {
	level := func(index, shift, count, levelType uint32) kvm.CPUIDEntry {
		return kvm.CPUIDEntry{
			Function: function,
			Index:    index,
			Flags:    kvm.KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
			Eax:      shift, // bits to shift the x2APIC ID right to reach the next level's ID
			Ebx:      count, // logical processors at this level
			Ecx:      levelType<<8 | index,
			Edx:      apicID,
		}
	}
	return []kvm.CPUIDEntry{
		level(0, 0, 1, topologyLevelSMT),
		level(1, uint32(apicIDBits(nCPUs)), nCPUs, topologyLevelCore),
		level(2, 0, 0, 0),
	}
}

// apicIDBits is the number of APIC ID bits that number n cores.
func apicIDBits(n uint32) int {
	return bits.Len32(n - 1)
}
