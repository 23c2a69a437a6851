package control

import (
	"bytes"
	"reflect"
	"testing"
)

var knownCodes = map[Code]bool{
	CodeBadRequest: true, CodeUnsupportedVersion: true, CodeUnknownOp: true, CodeTooLarge: true,
}

// FuzzDecodeRequest feeds DecodeRequest arbitrary lines, as a hostile local
// client could. It must never panic; a request it accepts must be version
// 1 with a known op and survive a round trip; a rejection must carry one of
// the parse error codes and a message, and encode as a reply line that
// stays small whatever the input.
// The seed corpus in testdata/fuzz/FuzzDecodeRequest has every op, every
// error, and JSON's corner cases (nesting, escapes, numbers, duplicates),
// and stop requests with timeouts in and out of range.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"version":1,"op":"info"}` + "\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := DecodeRequest(line)
		if err != nil {
			if !knownCodes[err.Code] || err.Message == "" {
				t.Fatalf("DecodeRequest(%q): error %+v", line, err)
			}
			b, eerr := encodeLine(Response{Version: Version, Error: err})
			if eerr != nil || len(b) > 1024 || bytes.Count(b, []byte("\n")) != 1 {
				t.Fatalf("error reply %q, %v", b, eerr)
			}
			return
		}
		if req.Version != Version || !req.Op.known() || len(line) > MaxRequestSize ||
			(req.TimeoutMS != nil && (*req.TimeoutMS < 0 || *req.TimeoutMS > MaxStopTimeout.Milliseconds())) {
			t.Fatalf("DecodeRequest(%q) accepted %+v", line, req)
		}
		b, eerr := encodeLine(req)
		if eerr != nil {
			t.Fatal(eerr)
		}
		again, err := DecodeRequest(b)
		if err != nil || !reflect.DeepEqual(again, req) {
			t.Fatalf("round trip of %+v: %+v, %v", req, again, err)
		}
	})
}
