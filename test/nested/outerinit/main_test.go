package main

import (
	"slices"
	"testing"
)

// glue's output arrives in arbitrary pieces; every line comes out whole,
// without its carriage return, and a last line without a newline comes
// out on flush.
func TestLineWriter(t *testing.T) {
	t.Parallel()
	var got []string
	w := &lineWriter{emit: func(l string) { got = append(got, l) }}
	for _, piece := range []string{"GLUE-OK init pi", "d1 pid=1\r\nGLUE-DONE", " init ok=8\r\n\r\n", "tail"} {
		w.Write([]byte(piece))
	}
	if want := []string{"GLUE-OK init pid1 pid=1", "GLUE-DONE init ok=8", ""}; !slices.Equal(got, want) {
		t.Fatalf("before flush: %q, want %q", got, want)
	}
	w.flush()
	if got[len(got)-1] != "tail" {
		t.Errorf("flush emitted %q, want the partial line", got[len(got)-1])
	}
}
