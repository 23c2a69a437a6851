// Package iasltest runs ACPICA's iasl (Debian's acpica-tools) as an
// independent oracle for the tables and AML that package acpi generates:
// the disassembler must decode them without complaint, and its compiler
// must turn the disassembly back into the same bytes.
package iasltest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

// Path returns the iasl binary. Without one it skips t, or fails it where
// skips are not allowed (as in CI, which installs acpica-tools).
func Path(t testing.TB) string {
	t.Helper()
	return hosttest.LookPath(t, "iasl") // Debian: acpica-tools
}

// complaints are the words (matched in any case) of what iasl prints for a
// problem: compiler errors, warnings and remarks, ACPICA's "ACPI
// Error/Warning" lines, and the disassembler's notes on bad checksums or
// lengths in the .dsl.
var complaints = []string{"error", "warning", "remark", "incorrect", "invalid", "unknown"}

// summary is the compiler's last line, which names the counts even when
// they are zero.
var summary = regexp.MustCompile(`Compilation successful\. 0 Errors, 0 Warnings, 0 Remarks`)

func check(t testing.TB, what string, out []byte) {
	t.Helper()
	// Plain searches over a lower-case copy: disassemblies run to tens of
	// megabytes, too many for a regular expression under the race detector.
	lower := bytes.ToLower(out)
	reported := map[int]bool{}
	for _, word := range complaints {
		for off := 0; ; {
			i := bytes.Index(lower[off:], []byte(word))
			if i < 0 {
				break
			}
			i += off
			off = i + len(word)
			start := bytes.LastIndexByte(out[:i], '\n') + 1
			end := len(out)
			if j := bytes.IndexByte(out[i:], '\n'); j >= 0 {
				end = i + j
			}
			line := out[start:end]
			if reported[start] || summary.Match(line) || bytes.Contains(line, []byte("Copyright")) {
				continue
			}
			reported[start] = true
			t.Errorf("iasl %s: %s", what, bytes.TrimSpace(line))
		}
	}
}

// Disassemble writes table to dir/name.dat, runs iasl -d on it, fails t on
// any complaint in iasl's output or in the disassembly, and returns the
// disassembly.
func Disassemble(t testing.TB, dir, name string, table []byte) string {
	t.Helper()
	iasl := Path(t)
	dat := filepath.Join(dir, name+".dat")
	if err := os.WriteFile(dat, table, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(iasl, "-d", dat)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("iasl -d %s: %v\n%s", name, err, out)
	}
	check(t, "-d "+name, out)
	dsl, err := os.ReadFile(filepath.Join(dir, name+".dsl"))
	if err != nil {
		t.Fatalf("iasl -d %s wrote no disassembly: %v\n%s", name, err, out)
	}
	check(t, "disassembly of "+name, dsl)
	// iasl declares what a name string refers to but the table does not
	// define as External: a name the generator got wrong.
	if bytes.Contains(dsl, []byte("External (")) {
		t.Errorf("iasl -d %s: the table refers to undefined names:\n%s", name, dsl)
	}
	return string(dsl)
}

// Recompile compiles dir/name.dsl (from Disassemble) with every
// optimization off, fails t unless that succeeds with no error, warning or
// remark, and returns the table iasl produced.
func Recompile(t testing.TB, dir, name string) []byte {
	t.Helper()
	iasl := Path(t)
	cmd := exec.Command(iasl, "-oa", "-p", filepath.Join(dir, name+"-iasl"), filepath.Join(dir, name+".dsl"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("iasl %s.dsl: %v\n%s", name, err, out)
	}
	if !summary.Match(out) {
		t.Errorf("iasl %s.dsl did not compile cleanly:\n%s", name, out)
	}
	check(t, "compiling "+name, out)
	aml, err := os.ReadFile(filepath.Join(dir, name+"-iasl.aml"))
	if err != nil {
		t.Fatal(err)
	}
	return aml
}

// endTag is a resource template's end tag; iasl writes 0 as its checksum
// byte ("not computed") where glue writes the real checksum.
const endTag = 0x79

// SameBody fails t unless ours and iasl's tables have the same length and
// the same bytes after the header (whose compiler ID and checksum differ),
// except that, with amlEndTags, the checksum byte after a resource
// template's end tag may be iasl's zero.
func SameBody(t testing.TB, name string, ours, iasls []byte, amlEndTags bool) {
	t.Helper()
	const header = 36
	if len(ours) != len(iasls) {
		t.Fatalf("%s: %d bytes, iasl recompiles %d", name, len(ours), len(iasls))
	}
	if bytes.Equal(ours[header:], iasls[header:]) {
		return
	}
	for i := header; i < len(ours); i++ {
		if ours[i] == iasls[i] {
			continue
		}
		if amlEndTags && ours[i-1] == endTag && iasls[i-1] == endTag && iasls[i] == 0 {
			continue
		}
		t.Fatalf("%s: byte %#x is %#02x, iasl recompiles %#02x", name, i, ours[i], iasls[i])
	}
}
