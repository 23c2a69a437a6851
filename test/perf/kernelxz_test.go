package perf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

// kernelXZSources are the files of a Linux source tree that
// kernelxz/unxz.c compiles: the decoder of lib/xz and its header.
var kernelXZSources = []string{
	"lib/xz/xz_crc32.c", "lib/xz/xz_dec_stream.c", "lib/xz/xz_dec_lzma2.c", "lib/xz/xz_dec_bcj.c",
	"lib/xz/xz_private.h", "lib/xz/xz_stream.h", "lib/xz/xz_lzma2.h", "include/linux/xz.h",
}

// buildKernelXZ compiles kernelxz/unxz.c against the source tree that
// kernelSrcEnv names into dir and says how it was built.
func buildKernelXZ(tb testing.TB, dir string) (bin, note string, err error) {
	src := os.Getenv(kernelSrcEnv)
	if src == "" {
		return "", "", errors.New(kernelSrcEnv + " is unset (a Linux source tree with lib/xz; see Method)")
	}
	for _, f := range kernelXZSources {
		if _, err := os.Stat(filepath.Join(src, f)); err != nil {
			return "", "", fmt.Errorf("%s: %w", kernelSrcEnv, err)
		}
	}
	gcc, ok := hosttest.LookPathOptional(tb, "gcc")
	if !ok {
		return "", "", errors.New("no gcc to build it")
	}
	shim, err := filepath.Abs("kernelxz")
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "unxz")
	args := []string{"-O2", "-iquote", shim, "-iquote", filepath.Join(src, "lib", "xz"),
		"-iquote", filepath.Join(src, "include", "linux"), "-o", bin, filepath.Join(shim, "unxz.c")}
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("gcc failed: %v\n%s", err, out)
	}
	return bin, fmt.Sprintf("lib/xz of %s, `gcc -O2`, gcc %s", kernelName(src), firstLine(gcc, "-dumpfullversion")), nil
}

// kernelName is "Linux 6.1.158" from the source tree's top Makefile, or
// the tree's path where that says nothing.
func kernelName(src string) string {
	mk, err := os.ReadFile(filepath.Join(src, "Makefile"))
	if err != nil {
		return src
	}
	v := map[string]string{}
	for l := range strings.Lines(string(mk)) {
		if k, val, ok := strings.Cut(l, "="); ok {
			v[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
		if v["SUBLEVEL"] != "" { // after VERSION and PATCHLEVEL
			break
		}
	}
	if v["VERSION"] == "" || v["PATCHLEVEL"] == "" || v["SUBLEVEL"] == "" {
		return src
	}
	return "Linux " + v["VERSION"] + "." + v["PATCHLEVEL"] + "." + v["SUBLEVEL"]
}
