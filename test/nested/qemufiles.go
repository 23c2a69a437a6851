package nested

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/gluevmm/glue/test/nested/plan"
)

// File is a regular file the outer initramfs holds besides the fixed
// ones, at its absolute path.
type File struct {
	Path string
	Mode os.FileMode
	Data []byte
}

// qemuFirmware are the files QEMU's microvm loads from its data
// directory to boot an ELF through PVH: its BIOS, qboot (Debian links
// bios-microvm.bin to it; QEMU 7.2 asks for qboot.rom), and the PVH
// option ROM.
var qemuFirmware = []string{"bios-microvm.bin", "qboot.rom", "pvh.bin"}

// lddLine is one library line of ldd's output: "libz.so.1 => /lib/...
// (0x...)", or the loader's "/lib64/ld-linux-x86-64.so.2 (0x...)".
var lddLine = regexp.MustCompile(`^\s*(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)$`)

// QEMUFiles returns the host's QEMU (found at qemu) with its shared
// libraries, each at its host path, and its microvm firmware in
// plan.DataDir, for the comparison inside the outer machine; and the
// directories that hold the libraries.
func QEMUFiles(ctx context.Context, qemu string) ([]File, []string, error) {
	out, err := exec.CommandContext(ctx, "ldd", qemu).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("nested: ldd %s: %w", qemu, err)
	}
	paths := map[string]string{plan.QEMU: qemu} // in the initramfs -> on the host
	var dirs []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "=> not found") {
			return nil, nil, fmt.Errorf("nested: ldd %s: %s", qemu, strings.TrimSpace(l))
		}
		m := lddLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		paths[m[1]] = m[1]
		if d := path.Dir(m[1]); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil, nil, fmt.Errorf("nested: ldd %s lists no libraries:\n%s", qemu, out)
	}
	for _, f := range qemuFirmware {
		paths[path.Join(plan.DataDir, f)] = filepath.Join(plan.DataDir, f)
	}
	var files []File
	for dest, src := range paths {
		b, err := os.ReadFile(src) // follows links: the archive holds the content
		if err != nil {
			return nil, nil, fmt.Errorf("nested: QEMU for the outer machine: %w", err)
		}
		files = append(files, File{Path: dest, Mode: 0o755, Data: b})
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, dirs, nil
}
