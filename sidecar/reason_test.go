package sidecar

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/reason"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/source/registry"
)

// wantReason fails unless err is a Connect error with code and an ErrorInfo
// of domain snapsync.dev with reason, and returns its metadata.
func wantReason(tb testing.TB, err error, code connect.Code, want string) map[string]string {
	tb.Helper()
	wantCode(tb, err, code)
	got, md, ok := reason.Of(err)
	if !ok || got != want {
		tb.Fatalf("reason %q (found %v) of %v, want %q", got, ok, err, want)
	}
	return md
}

// TestReasonsOnTheWire: the local API's errors carry their reason, and a
// Prepare the peer refused for its index ends with the peer's reason and
// newest index.
func TestReasonsOnTheWire(t *testing.T) {
	t.Parallel()
	ck := makeCheckpoint(t, 1<<20)
	p := startPeer(t, server.Config{Source: dirSource(t, ck, 1)}) // index 42
	l := startLocal(t, InstallConfig{}, nil)
	dest := filepath.Join(l.root, "db")

	_, err := startPrepareErr(l.client, p.url, 100, dest)
	md := wantReason(t, err, connect.CodeFailedPrecondition, reason.MinIndexNotReached)
	if md[reason.MetaNewestIndex] != "42" || md[reason.MetaMinIndex] != "100" {
		t.Fatalf("metadata %v, want the peer's newest index 42 and min_index 100", md)
	}

	_, err = startPrepareErr(l.client, "", 1, dest)
	wantReason(t, err, connect.CodeInvalidArgument, reason.BadRequest)
	_, err = startPrepareErr(l.client, p.url, 1, filepath.Join(t.TempDir(), "db"))
	wantReason(t, err, connect.CodePermissionDenied, reason.DestNotAllowed)
	_, err = l.client.Commit(context.Background(), connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: make([]byte, 32)}))
	wantReason(t, err, connect.CodeFailedPrecondition, reason.NotStaged)
}

// startPrepareErr runs a Prepare to its end and returns its error.
func startPrepareErr(c interface {
	Prepare(context.Context, *connect.Request[snapsyncv1.PrepareRequest]) (*connect.ServerStreamForClient[snapsyncv1.PrepareResponse], error)
}, source string, minIndex uint64, dest string) ([]*snapsyncv1.PrepareResponse, error) {
	return startPrepareErrCtx(context.Background(), c, source, minIndex, dest)
}

// startPrepareErrCtx is startPrepareErr under ctx.
func startPrepareErrCtx(ctx context.Context, c interface {
	Prepare(context.Context, *connect.Request[snapsyncv1.PrepareRequest]) (*connect.ServerStreamForClient[snapsyncv1.PrepareResponse], error)
}, source string, minIndex uint64, dest string) ([]*snapsyncv1.PrepareResponse, error) {
	s, err := c.Prepare(ctx, connect.NewRequest(&snapsyncv1.PrepareRequest{SourceUrl: source, MinIndex: minIndex, Dest: dest}))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var msgs []*snapsyncv1.PrepareResponse
	for s.Receive() {
		msgs = append(msgs, s.Msg())
	}
	return msgs, s.Err()
}

// TestClassify: every error the local API returns maps to one code and one
// reason.
func TestClassify(t *testing.T) {
	t.Parallel()
	peerCheckpoint := reason.New(connect.CodeFailedPrecondition, errors.New("command failed"), reason.CheckpointFailed, nil)
	testCases := []struct {
		err    error
		code   connect.Code
		reason string
		md     map[string]string
	}{
		{&client.NoSpaceError{Path: "/x", Need: 10, Free: 5, Headroom: 2}, connect.CodeResourceExhausted, reason.NoSpace,
			map[string]string{reason.MetaNeedBytes: "10", reason.MetaFreeBytes: "5", reason.MetaHeadroomBytes: "2"}},
		{fmt.Errorf("%w: write x: %w", client.ErrNoSpace, syscall.ENOSPC), connect.CodeResourceExhausted, reason.NoSpace, nil},
		{fmt.Errorf("fsync: %w", syscall.ENOSPC), connect.CodeResourceExhausted, reason.NoSpace, nil},
		{client.ErrRecoverNeeded, connect.CodeFailedPrecondition, reason.SwapInterrupted, nil},
		{ErrPreparing, connect.CodeFailedPrecondition, reason.PrepareInProgress, nil},
		{ErrCommitting, connect.CodeFailedPrecondition, reason.CommitInProgress, nil},
		{ErrNotPrepared, connect.CodeFailedPrecondition, reason.NotStaged, nil},
		{client.ErrNotStaged, connect.CodeFailedPrecondition, reason.NotStaged, nil},
		{client.ErrStagingUntrusted, connect.CodeFailedPrecondition, reason.StagingUntrusted, nil},
		{client.ErrStaging, connect.CodeFailedPrecondition, reason.StagingInvalid, nil},
		{client.ErrBusy, connect.CodeAborted, reason.Busy, nil},
		{ErrSuperseded, connect.CodeAborted, reason.Superseded, nil},
		{ErrAborted, connect.CodeAborted, reason.Aborted, nil},
		{ErrClosed, connect.CodeUnavailable, reason.ShuttingDown, nil},
		{fmt.Errorf("fetch: %w", client.ErrStalled), connect.CodeUnavailable, reason.Stalled, nil},
		{fmt.Errorf("%w after 8 attempts: %w", client.ErrUnavailable, connect.NewError(connect.CodeUnavailable, errors.New("refused"))),
			connect.CodeUnavailable, reason.PeerUnavailable, nil},
		{fmt.Errorf("create snapshot: %w: %w", client.ErrTLS, x509.UnknownAuthorityError{}), connect.CodeUnavailable, reason.PeerUnavailable, nil},
		{fmt.Errorf("chunk 3: %w", client.ErrVerify), connect.CodeDataLoss, reason.DataLoss, nil},
		{ErrBadRequest, connect.CodeInvalidArgument, reason.BadRequest, nil},
		{client.ErrConfig, connect.CodeInvalidArgument, reason.BadRequest, nil},
		{registry.ErrRejected, connect.CodeInvalidArgument, reason.CheckpointRejected, nil},
		{ErrNotAllowed, connect.CodePermissionDenied, reason.DestNotAllowed, nil},
		{ErrUnknownSnapshot, connect.CodeNotFound, reason.UnknownSnapshot, nil},
		{fmt.Errorf("create snapshot: %w: %w", client.ErrServer, peerCheckpoint), connect.CodeFailedPrecondition, reason.CheckpointFailed, nil},
		{fmt.Errorf("%w: bad manifest", client.ErrServer), connect.CodeInternal, reason.PeerProtocol, nil},
		{context.Canceled, connect.CodeCanceled, reason.Canceled, nil},
		{errors.New("boom"), connect.CodeInternal, reason.Internal, nil},
	}
	for _, tc := range testCases {
		err := toConnect(tc.err)
		md := wantReason(t, err, tc.code, tc.reason)
		if tc.md != nil && fmt.Sprint(md) != fmt.Sprint(tc.md) {
			t.Errorf("%v: metadata %v, want %v", tc.err, md, tc.md)
		}
	}
	for _, tc := range []struct {
		err    error
		code   connect.Code
		reason string
	}{
		{fmt.Errorf("%w: no token", auth.ErrUnauthenticated), connect.CodeUnauthenticated, reason.Unauthenticated},
		{fmt.Errorf("%w: uid 7", auth.ErrPermissionDenied), connect.CodePermissionDenied, reason.PermissionDenied},
	} {
		ce, _ := auth.Refusal(tc.err)
		wantReason(t, ce, tc.code, tc.reason)
	}
}
