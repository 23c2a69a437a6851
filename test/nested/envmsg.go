package nested

import (
	"regexp"
	"strings"
)

// complaint marks a console line in which a kernel reports trouble.
var complaint = regexp.MustCompile(`WARNING:|BUG:|Oops|soft lockup|hung task|Call Trace|(?i:unhandled)|general protection|segfault|watchdog`)

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
		regexp.MustCompile(`^kvm \[\d+\]: vcpu\d+, guest rIP: 0x[0-9a-f]+ Unhandled WRMSR\(0xc0010007\) = 0xffff$`),
		"the inner Linux probes AMD's legacy perf counter 3; the outer KVM has no PMU for it",
	},
}

var timestamp = regexp.MustCompile(`^\[\s*\d+\.\d+\]\s*`)

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
