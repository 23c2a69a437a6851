package unixsock_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gluevmm/glue/internal/unixsock"
)

// A server answers one client, which ends its request with a half-close.
func Example() {
	dir, _ := os.MkdirTemp("", "unixsock")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "demo.sock")

	l, err := unixsock.Listen(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, _ := io.ReadAll(c)
		cred, _ := c.PeerCred()
		fmt.Fprintf(c, "%s from my own uid: %v", req, int(cred.Uid) == os.Geteuid())
	}()

	c, err := unixsock.Dial(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Write([]byte("hello"))
	c.CloseWrite()
	reply, _ := io.ReadAll(c)
	fmt.Println(string(reply))
	// Output: hello from my own uid: true
}
