package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Request
		code Code
	}{
		{"info", `{"version":1,"op":"info"}`, Request{Version: 1, Op: OpInfo}, ""},
		{"with newline and spaces", " {\"op\":\"stop\", \"version\":1}\n", Request{Version: 1, Op: OpStop}, ""},
		{"unknown field", `{"version":1,"op":"console","client":"glue 0.2"}`, Request{}, CodeBadRequest},
		{"unknown nested field", `{"version":1,"op":"info","x":{"op":"stop"}}`, Request{}, CodeBadRequest},
		{"duplicate op", `{"version":1,"op":"stop","op":"info"}`, Request{}, CodeBadRequest},
		{"duplicate version", `{"version":1,"version":1,"op":"info"}`, Request{}, CodeBadRequest},
		{"duplicate timeout", `{"version":1,"op":"stop","timeout_ms":1,"timeout_ms":2}`, Request{}, CodeBadRequest},
		{"key in upper case", `{"version":1,"OP":"info"}`, Request{}, CodeBadRequest},
		{"key in mixed case", `{"Version":1,"op":"info"}`, Request{}, CodeBadRequest},
		{"future version with its own fields", `{"version":2,"op":"info","deadline":5}`, Request{}, CodeUnsupportedVersion},
		{"no version", `{"op":"info"}`, Request{}, CodeBadRequest},
		{"null version", `{"version":null,"op":"info"}`, Request{}, CodeBadRequest},
		{"empty op", `{"version":1,"op":""}`, Request{}, CodeBadRequest},
		{"future version, unknown op", `{"version":9,"op":"migrate"}`, Request{}, CodeUnsupportedVersion},
		{"negative version", `{"version":-1,"op":"info"}`, Request{}, CodeUnsupportedVersion},
		{"huge version", `{"version":1e30,"op":"info"}`, Request{}, CodeBadRequest},
		{"unknown op", `{"version":1,"op":"Info"}`, Request{}, CodeUnknownOp},
		{"too large", `{"version":1,"op":"info","x":"` + strings.Repeat("a", MaxRequestSize) + `"}`, Request{}, CodeTooLarge},
		{"trailing garbage", `{"version":1,"op":"info"} x`, Request{}, CodeBadRequest},
		{"string", `"info"`, Request{}, CodeBadRequest},
		{"stop timeout", `{"version":1,"op":"stop","timeout_ms":2500}`, Request{Version: 1, Op: OpStop, TimeoutMS: ptr(int64(2500))}, ""},
		{"stop at once", `{"version":1,"op":"stop","timeout_ms":0}`, Request{Version: 1, Op: OpStop, TimeoutMS: ptr(int64(0))}, ""},
		{"negative stop timeout", `{"version":1,"op":"stop","timeout_ms":-1}`, Request{}, CodeBadRequest},
		{"stop timeout past the limit", `{"version":1,"op":"stop","timeout_ms":3600001}`, Request{}, CodeBadRequest},
		{"fractional stop timeout", `{"version":1,"op":"stop","timeout_ms":1.5}`, Request{}, CodeBadRequest},
		{"balloon status", `{"version":1,"op":"balloon"}`, Request{Version: 1, Op: OpBalloon}, ""},
		{"balloon target", `{"version":1,"op":"balloon","target_mib":64}`, Request{Version: 1, Op: OpBalloon, TargetMiB: ptr(uint64(64))}, ""},
		{"negative balloon target", `{"version":1,"op":"balloon","target_mib":-1}`, Request{}, CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeRequest([]byte(tc.in))
			if tc.code != "" {
				if err == nil || err.Code != tc.code {
					t.Fatalf("DecodeRequest(%q) = %+v, %v; want code %s", tc.in, got, err, tc.code)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DecodeRequest(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestResponseWireFormat pins the field names of docs/control-protocol.md.
func TestResponseWireFormat(t *testing.T) {
	t.Parallel()
	info := Info{Name: "web", PID: 4242, State: StateRunning, CPUs: 2, MemMiB: 512,
		StartedAt: time.Date(2026, 11, 27, 10, 7, 24, 0, time.UTC), Kernel: "/boot/vmlinuz"}
	tests := []struct {
		name string
		resp Response
		want string
	}{
		{"info", Response{Version: 1, OK: true, State: StateRunning, Info: &info},
			`{"version":1,"ok":true,"state":"running","info":{"name":"web","pid":4242,"state":"running","cpus":2,"mem_mib":512,"started_at":"2026-11-27T10:07:24Z","kernel":"/boot/vmlinuz"}}`},
		{"pause", Response{Version: 1, OK: true, State: StatePaused}, `{"version":1,"ok":true,"state":"paused"}`},
		{"console", Response{Version: 1, OK: true}, `{"version":1,"ok":true}`},
		{"error", Response{Version: 1, Error: &Error{Code: CodeUnsupportedVersion, Message: "version 2 is not supported; this server speaks version 1"}},
			`{"version":1,"ok":false,"error":{"code":"unsupported_version","message":"version 2 is not supported; this server speaks version 1"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tc.resp)
			if err != nil || string(b) != tc.want {
				t.Fatalf("got %s, %v\nwant %s", b, err, tc.want)
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("control: vm: pause: %w", &Error{Code: CodeBusy, Message: "x"})
	if !errors.Is(err, &Error{Code: CodeBusy}) || errors.Is(err, &Error{Code: CodeInternal}) {
		t.Fatal("errors.Is does not match on the code")
	}
	if !errors.Is(ErrConsoleBusy, &Error{Code: CodeBusy}) {
		t.Fatal("ErrConsoleBusy is not a busy error")
	}
}

func ptr[T any](v T) *T { return &v }

// A stop request's timeout is the one it names, or the default.
func TestRequestStopTimeout(t *testing.T) {
	t.Parallel()
	if got := (Request{Op: OpStop}).StopTimeout(); got != DefaultStopTimeout {
		t.Errorf("no timeout_ms: %v, want %v", got, DefaultStopTimeout)
	}
	if got := (Request{Op: OpStop, TimeoutMS: ptr(int64(0))}).StopTimeout(); got != 0 {
		t.Errorf("timeout_ms 0: %v, want 0", got)
	}
	if got := (Request{Op: OpStop, TimeoutMS: ptr(int64(1500))}).StopTimeout(); got != 1500*time.Millisecond {
		t.Errorf("timeout_ms 1500: %v, want 1.5s", got)
	}
}
