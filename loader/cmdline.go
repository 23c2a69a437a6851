package loader

import (
	"strings"
)

// Cmdline builds a kernel command line. The zero value is an empty command
// line ready to use.
type Cmdline struct {
	b strings.Builder
}

// NewCmdline returns a command line holding params.
func NewCmdline(params ...string) (*Cmdline, error) {
	c := &Cmdline{}
	if err := c.Add(params...); err != nil {
		return nil, err
	}
	return c, nil
}

// Add appends params, separated by spaces. A parameter may contain spaces
// (quoted values such as foo="a b"), but not NUL, which would end the
// command line early, nor line breaks. On error nothing is added.
func (c *Cmdline) Add(params ...string) error {
	for _, p := range params {
		switch {
		case p == "":
			return errorf(ErrCmdlineInvalid, "loader: empty command line parameter")
		case strings.ContainsAny(p, "\x00\n\r"):
			return errorf(ErrCmdlineInvalid, "loader: command line parameter %q contains a NUL or line break", p)
		}
	}
	for _, p := range params {
		if c.b.Len() > 0 {
			c.b.WriteByte(' ')
		}
		c.b.WriteString(p)
	}
	return nil
}

// String returns the command line.
func (c *Cmdline) String() string { return c.b.String() }

// Len returns the command line's length in bytes, without a NUL.
func (c *Cmdline) Len() int { return c.b.Len() }

// Bytes returns the command line as the kernel reads it: NUL-terminated.
func (c *Cmdline) Bytes() []byte {
	b := make([]byte, 0, c.b.Len()+1)
	b = append(b, c.b.String()...)
	return append(b, 0)
}

// CheckLength fails if the command line is longer than max bytes (without
// the NUL), the limit a Kernel reports as CmdlineMax.
func (c *Cmdline) CheckLength(max int) error {
	if n := c.b.Len(); n > max {
		return errorf(ErrCmdlineTooLong, "loader: command line is %d bytes; this kernel accepts at most %d", n, max)
	}
	return nil
}
