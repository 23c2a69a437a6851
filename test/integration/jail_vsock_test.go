package integration

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A jailed VM's vsock socket is NAME.vsock in the jail directory, and the
// guest's connections to port P go to NAME.vsock_P there: a host program
// reaches the guest's echo port through it, the guest's line reaches a
// host listener the jail's uid may connect to, under the jail's seccomp
// filter, and the host side removes the socket once the VM has ended.
func TestFeaturesJailedVMVsock(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	jail, _ := jailDir(t)
	// The dropped uid connects to the host's listener: it needs to search
	// the jail directory and to write to the socket.
	if err := os.Chmod(jail, 0o711); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(jail, "jv.vsock")
	line := listenForLine(t, sock+"_5555")
	id, _ := strconv.Atoi(jailID)
	if err := os.Chown(sock+"_5555", id, id); err != nil {
		t.Fatal(err)
	}
	s := startGlue(t, "--runtime-dir", dir, "run", "-n", "jv", "-m", "64",
		"--jail", jail, "--jail-uid", jailID, "--jail-gid", jailID, "--vsock", "cid=7",
		"-p", "glue.test=vsock glue.vsock.connect=5555 glue.vsock.listen=52 glue.vsock.timeout=60")
	s.waitFor("GLUE-READY vsock", time.Minute)
	select {
	case got := <-line:
		if got != "GLUE-VSOCK hello from cid 7\n" {
			t.Fatalf("the guest's line on %s_5555: %q", sock, got)
		}
	case <-time.After(time.Minute):
		t.Fatalf("no connection from the guest on %s_5555", sock)
	}
	c, r := dialGuest(t, sock, 52)
	if _, err := c.Write([]byte("through the jail\n")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	if got, err := io.ReadAll(r); err != nil || string(got) != "through the jail\n" {
		t.Fatalf("echo through %s: %q, %v", sock, got, err)
	}
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.output())
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s left behind after the jailed VM ended (lstat: %v)", sock, err)
	}
	checkNoControlFiles(t, dir, "jv")
}
