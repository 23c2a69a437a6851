package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Version is the protocol version this package speaks. Within a version,
// changes are additive (new optional fields, new ops, new error codes);
// anything else is a new version.
const Version = 1

// MaxRequestSize caps one request line, newline included. Requests are a
// few dozen bytes; the cap bounds what an unauthenticated peer can make the
// server buffer.
const MaxRequestSize = 4096

// maxResponseSize caps what a client reads for one response.
const maxResponseSize = 64 << 10

// Op names a request.
type Op string

// The operations.
const (
	OpInfo    Op = "info"    // describe the VM
	OpPause   Op = "pause"   // stop the vCPUs (idempotent)
	OpResume  Op = "resume"  // restart them (idempotent)
	OpStop    Op = "stop"    // end the VM (idempotent)
	OpConsole Op = "console" // attach to the guest console; the connection becomes a byte stream
	OpBalloon Op = "balloon" // set the balloon target (target_mib), report the balloon and guest statistics
)

func (o Op) known() bool {
	switch o {
	case OpInfo, OpPause, OpResume, OpStop, OpConsole, OpBalloon:
		return true
	}
	return false
}

// State is a VM's run state as the control plane reports it.
type State string

// The states. A Target reports the first three; List adds Unresponsive for
// a VM that holds its lock but does not answer.
const (
	StateRunning      State = "running"
	StatePaused       State = "paused"
	StateStopping     State = "stopping"
	StateUnresponsive State = "unresponsive"
	// StateEnded is a VM that no longer runs, as a CLI lists its Record;
	// no server reports it.
	StateEnded State = "ended"
)

// Info describes a VM.
type Info struct {
	Name      string    `json:"name"`
	PID       int       `json:"pid"`
	State     State     `json:"state"`
	CPUs      int       `json:"cpus"`
	MemMiB    uint64    `json:"mem_mib"`
	StartedAt time.Time `json:"started_at"` // RFC 3339
	Kernel    string    `json:"kernel"`     // path, or "" for the built-in guest
}

// Request is what a client sends: one JSON object on one line.
type Request struct {
	Version int `json:"version"`
	Op      Op  `json:"op"`
	// TimeoutMS is, for OpStop, how long a VM with ACPI has to power
	// itself off after the power button press before it is stopped; 0
	// stops it at once, nil means DefaultStopTimeout. Other ops ignore it.
	TimeoutMS *int64 `json:"timeout_ms,omitempty"`
	// TargetMiB is, for OpBalloon, how much memory the balloon should
	// take from the guest; nil leaves the target as it is. Other ops
	// ignore it.
	TargetMiB *uint64 `json:"target_mib,omitempty"`
}

// BalloonStatus is a VM's balloon device, as OpBalloon reports it. The
// *Bytes counts are of 4 KiB pages; a page given up twice counts twice.
type BalloonStatus struct {
	TargetBytes   uint64 `json:"target_bytes"`   // what the host asked the balloon to take
	ActualBytes   uint64 `json:"actual_bytes"`   // what the guest says it has given up
	InflatedBytes uint64 `json:"inflated_bytes"` // given up on the inflate queue and returned to the host
	DeflatedBytes uint64 `json:"deflated_bytes"` // taken back on the deflate queue
	ReportedBytes uint64 `json:"reported_bytes"` // reported free by the guest and returned to the host
	BadPages      uint64 `json:"bad_pages"`      // page numbers outside guest RAM, ignored
	Malformed     uint64 `json:"malformed"`      // buffers of a bad length, unknown statistics tags
	// Stats are the guest's latest memory statistics by name
	// ("free-memory", "total-memory", ...; memory in bytes), absent
	// before it reported any; StatsUpdates counts its reports.
	Stats        map[string]uint64 `json:"stats,omitempty"`
	StatsUpdates uint64            `json:"stats_updates"`
}

// DefaultStopTimeout is how long a stop request without timeout_ms waits
// for the guest to power off; MaxStopTimeout is the longest it may ask.
const (
	DefaultStopTimeout = 10 * time.Second
	MaxStopTimeout     = time.Hour
)

// StopTimeout returns the request's stop timeout, the default if it names
// none.
func (r Request) StopTimeout() time.Duration {
	if r.TimeoutMS == nil {
		return DefaultStopTimeout
	}
	return time.Duration(*r.TimeoutMS) * time.Millisecond
}

// Response is the server's answer: one JSON object on one line. State is
// set on success of every op but console; Info only for OpInfo.
type Response struct {
	Version int            `json:"version"`
	OK      bool           `json:"ok"`
	State   State          `json:"state,omitempty"`
	Info    *Info          `json:"info,omitempty"`
	Balloon *BalloonStatus `json:"balloon,omitempty"` // OpBalloon only
	Error   *Error         `json:"error,omitempty"`
}

// Code classifies an Error.
type Code string

// The error codes. Clients must treat a code they do not know like
// CodeInternal (new codes may appear within a version).
const (
	CodeBadRequest         Code = "bad_request"         // not a JSON object, or a field missing or mistyped
	CodeUnsupportedVersion Code = "unsupported_version" // version is not Version
	CodeUnknownOp          Code = "unknown_op"          // op is not one this server knows
	CodeTooLarge           Code = "too_large"           // request longer than MaxRequestSize
	CodePermissionDenied   Code = "permission_denied"   // peer is neither the server's user nor root
	CodeTimeout            Code = "timeout"             // request not received, or op not done, in time
	CodeBusy               Code = "busy"                // too many connections, or a console is attached already
	CodeInvalidState       Code = "invalid_state"       // op does not apply now (e.g. pause while stopping)
	CodeUnavailable        Code = "unavailable"         // the VM has no such facility (e.g. no console)
	CodeInternal           Code = "internal"            // the op failed in the VM
)

// Error is an error reported by the server. Compare codes with errors.As,
// or with errors.Is against an *Error that has only Code set:
//
//	errors.Is(err, &control.Error{Code: control.CodeBusy})
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is matches another *Error with the same Code, so a Target may return, and
// a caller test for, a code without caring about the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// wireRequest mirrors Request with pointers, to tell a missing field from a
// zero one.
type wireRequest struct {
	Version   *int    `json:"version"`
	Op        *Op     `json:"op"`
	TimeoutMS *int64  `json:"timeout_ms"`
	TargetMiB *uint64 `json:"target_mib"`
}

// DecodeRequest parses one request line (without or with its trailing
// newline). It never panics; on failure the *Error is what the server sends
// back. Decoding is strict: an unknown, duplicate or case-mismatched key is
// CodeBadRequest (after the version check: another version may have other
// fields).
func DecodeRequest(line []byte) (Request, *Error) {
	if len(line) > MaxRequestSize {
		return Request{}, errorf(CodeTooLarge, "request is %d bytes; the limit is %d", len(line), MaxRequestSize)
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return Request{}, errorf(CodeBadRequest, "request is not a JSON object")
	}
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&w); err != nil {
		return Request{}, errorf(CodeBadRequest, "malformed request: %v", err)
	}
	if dec.InputOffset() != int64(len(line)) {
		return Request{}, errorf(CodeBadRequest, "data after the request object")
	}
	// Version first: a request of another version may use ops or fields
	// this server does not know, and that is the real problem to report.
	if w.Version == nil {
		return Request{}, errorf(CodeBadRequest, "request has no version")
	}
	if *w.Version != Version {
		return Request{}, errorf(CodeUnsupportedVersion, "version %d is not supported; this server speaks version %d", *w.Version, Version)
	}
	if e := checkKeys(line, requestKeys()); e != nil {
		return Request{}, e
	}
	if w.Op == nil || *w.Op == "" {
		return Request{}, errorf(CodeBadRequest, "request has no op")
	}
	if !w.Op.known() {
		return Request{}, errorf(CodeUnknownOp, "unknown op %q", truncate(string(*w.Op), 64))
	}
	if t := w.TimeoutMS; t != nil && (*t < 0 || *t > MaxStopTimeout.Milliseconds()) {
		return Request{}, errorf(CodeBadRequest, "timeout_ms %d: want 0 to %d", *t, MaxStopTimeout.Milliseconds())
	}
	return Request{Version: *w.Version, Op: *w.Op, TimeoutMS: w.TimeoutMS, TargetMiB: w.TargetMiB}, nil
}

// encodeLine marshals v as one newline-terminated JSON line.
func encodeLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// truncate keeps error messages that quote client input short.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
