package console_test

import (
	"fmt"

	"github.com/gluevmm/glue/console"
)

// Host keystrokes pass through Escape before they reach the guest's UART.
func ExampleEscape() {
	var e console.Escape
	out, quit := e.Filter([]byte("ls\r\x01x"))
	fmt.Printf("%q %v\n", out, quit)
	// Output: "ls\r" true
}
