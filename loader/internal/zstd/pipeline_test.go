package zstd

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/gluevmm/glue/loader/loadertest"
)

// TestPipeline runs the tests of small frames with every frame decoded
// in two goroutines from its first block on.
func TestPipeline(t *testing.T) {
	defer func(n int) { pipeMin = n }(pipeMin)
	pipeMin = 0
	for name, f := range map[string]func(*testing.T){
		"Sequences": TestSequences, "Literals": TestLiterals, "FrameBoundary": TestFrameBoundary,
		"FrameHeader": TestFrameHeader, "Truncated": TestTruncated, "Flipped": TestFlipped,
		"Checksum": TestChecksum, "Limit": TestLimit, "Context": TestContext,
		"Concatenated": TestConcatenated, "SmallSizes": TestSmallSizes,
	} {
		t.Run(name, f)
	}
}

// TestPipelineOrder decodes a frame of many blocks, each of whose
// matches reach into earlier ones, in two goroutines.
func TestPipelineOrder(t *testing.T) {
	data := loadertest.Sample(30, 3<<20)
	frame := zstdCLI(t, data, "-3", "--no-content-size")
	defer func(n int) { pipeMin = n }(pipeMin)
	for _, n := range []int{0, 200 << 10} {
		pipeMin = n
		check(t, "pipelined", frame, data)
	}
}

// waitGoroutines fails unless the goroutines go back to n.
func waitGoroutines(t *testing.T, what string, n int) {
	t.Helper()
	for start := time.Now(); runtime.NumGoroutine() > n; {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("%s: %d goroutines, %d before", what, runtime.NumGoroutine(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPipelineStops checks that the executor ends with the decode on an
// error, a cancel and the limit.
func TestPipelineStops(t *testing.T) {
	data := loadertest.Sample(31, 4<<20)
	frame := zstdCLI(t, data, "-3")
	before := runtime.NumGoroutine()
	// Flipped bytes well into the frame: the executor has work when the
	// decoder fails.
	for i := len(frame) / 2; i < len(frame); i += len(frame) / 10 {
		bad := bytes.Clone(frame)
		bad[i] ^= 0xff
		if _, err := decode(bad); err == nil {
			t.Fatalf("byte %d flipped: no error", i)
		}
		waitGoroutines(t, "error", before)
	}
	if _, err := decode(frame[:len(frame)/2]); err == nil {
		t.Fatal("truncated: no error")
	}
	waitGoroutines(t, "truncated", before)
	for _, n := range []int{3, 10} {
		if _, err := Decode(&countdown{context.Background(), n}, frame, 0, 1<<30); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled after %d looks: %v", n, err)
		}
		waitGoroutines(t, "cancel", before)
	}
	if _, err := Decode(context.Background(), frame, 0, 3<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit: %v", err)
	}
	waitGoroutines(t, "limit", before)
	check(t, "whole", frame, data)
	waitGoroutines(t, "success", before)
}
