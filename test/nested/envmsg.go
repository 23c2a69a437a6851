package nested

import (
	"regexp"
	"strings"
)

// complaint marks a console line in which a kernel reports trouble. A
// call trace follows a WARNING or BUG line, which is what is matched; a
// soft lockup says "BUG: soft lockup", a hung task "INFO: task NAME:PID
// blocked for more than N seconds.".
var complaint = regexp.MustCompile(`WARNING:|BUG:|Oops|blocked for more than|(?i:unhandled)|general protection|segfault`)

// environmentMessages are the complaints the emulated machine itself
// causes, by their exact text (after the kernel's timestamp): they are
// reported, never failed on. Each says what causes it.
var environmentMessages = []struct {
	text *regexp.Regexp
	why  string
}{
	{
		// The inner Linux's perf code probes the last of AMD's four
		// legacy counters (check_hw_exists in arch/x86/events/core.c
		// writes 0xffff to PERFCTR3) on any AMD CPU, whatever CPUID says;
		// the outer KVM, whose emulated CPU has no PMU it could offer,
		// does not handle the MSR and logs the write.
		legacyPerfProbe,
		"the inner Linux probes AMD's legacy perf counter 3; the outer KVM has no PMU for it",
	},
	{
		// QEMU's EPYC model advertises XSAVE features whose sizes in
		// CPUID leaf 0xD do not add up to what Linux computes; Linux
		// warns once and carries on. The same kernel warns the same
		// under QEMU on that KVM, so it is the model's, not glue's.
		regexp.MustCompile(`^WARNING: CPU: 0 PID: 0 at arch/x86/kernel/fpu/xstate\.c:606 fpu__init_system_xstate\+0x85a/0xb19$`),
		"XSAVE size warning of the emulated EPYC CPU model",
	},
	{
		// The EPYC model is a Zen CPU with the SRSO erratum, and the
		// emulated machine has no microcode to mitigate it.
		regexp.MustCompile(`^Speculative Return Stack Overflow: WARNING: See https://kernel\.org/doc/html/latest/admin-guide/hw-vuln/srso\.html for mitigation options\.$`),
		"SRSO mitigation notice of the emulated Zen CPU",
	},
}

// legacyPerfProbe is the outer KVM's line for an inner Linux's probe of
// AMD's legacy perf counter 3. Linux probes the legacy counters only when
// CPUID shows none of AMD's counter extensions, so every inner Linux that
// got that far leaves one such line: the PMU check (checkMachine).
var legacyPerfProbe = regexp.MustCompile(`^kvm \[\d+\]: vcpu\d+, guest rIP: 0x[0-9a-f]+ Unhandled WRMSR\(0xc0010007\) = 0xffff$`)

// legacyPerfProbes counts legacyPerfProbe lines in a console.
func legacyPerfProbes(lines []string) int {
	n := 0
	for _, l := range lines {
		if legacyPerfProbe.MatchString(timestamp.ReplaceAllString(strings.TrimSpace(l), "")) {
			n++
		}
	}
	return n
}

// timestamp is the kernel's prefix of a console line, or of a line of the
// kernel log that init dumps ("GLUE-KLOG <4>[    2.97] ...").
var timestamp = regexp.MustCompile(`^(GLUE-KLOG <\d>)?\[\s*\d+\.\d+\]\s*`)

// unknownComplaints returns the complaint lines of a console that are not
// environment messages.
func unknownComplaints(lines []string) []string {
	var out []string
	for _, l := range lines {
		text := timestamp.ReplaceAllString(strings.TrimSpace(l), "")
		if !complaint.MatchString(text) || isEnvironment(text) {
			continue
		}
		out = append(out, text)
	}
	return out
}

func isEnvironment(text string) bool {
	for _, m := range environmentMessages {
		if m.text.MatchString(text) {
			return true
		}
	}
	return false
}
