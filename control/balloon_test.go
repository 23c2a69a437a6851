package control

import (
	"context"
	"testing"
)

// balloonTarget is a fakeTarget with a balloon device.
type balloonTarget struct {
	*fakeTarget
	target *uint64
}

func (b *balloonTarget) Balloon(_ context.Context, targetMiB *uint64) (BalloonStatus, error) {
	if targetMiB != nil {
		b.target = targetMiB
	}
	st := BalloonStatus{Stats: map[string]uint64{"free-memory": 1 << 20}, StatsUpdates: 3}
	if b.target != nil {
		st.TargetBytes = *b.target << 20
	}
	return st, nil
}

func TestBalloonOp(t *testing.T) {
	t.Parallel()
	bt := &balloonTarget{fakeTarget: newFake()}
	_, dir := startServer(t, "vm", bt, nil)
	c := dial(t, dir, "vm")
	target := uint64(64)
	st, err := c.Balloon(testCtx(t), &target)
	if err != nil {
		t.Fatal(err)
	}
	if st.TargetBytes != 64<<20 || st.Stats["free-memory"] != 1<<20 || st.StatsUpdates != 3 {
		t.Fatalf("status %+v", st)
	}
	// Without a target the request only reports; the target stays.
	if st, err = c.Balloon(testCtx(t), nil); err != nil || st.TargetBytes != 64<<20 {
		t.Fatalf("status %+v, %v; want the target kept", st, err)
	}
}

func TestBalloonOpWithoutDevice(t *testing.T) {
	t.Parallel()
	_, dir := startServer(t, "vm", newFake(), nil)
	_, err := dial(t, dir, "vm").Balloon(testCtx(t), nil)
	wantCode(t, err, CodeUnavailable)
}
