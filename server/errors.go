package server

import (
	"context"
	"errors"
	"strconv"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/reason"
	"github.com/snapsync/snapsync/source"
)

// Sentinel errors; match them with errors.Is. The handlers map them to
// Connect codes in one place, toConnect.
var (
	ErrUnknownSnapshot = errors.New("server: unknown snapshot")
	ErrUnknownLease    = errors.New("server: unknown or expired lease")
	ErrBadRequest      = errors.New("server: bad request")
	ErrTooManyStreams  = errors.New("server: too many concurrent streams")
	// ErrMinIndex is source.ErrMinIndex: no checkpoint reaches the index
	// asked for.
	ErrMinIndex = source.ErrMinIndex
	// ErrCheckpoint wraps a source's failure to make a checkpoint (a
	// checkpoint command that fails or prints garbage, a DB error): the
	// caller gets FailedPrecondition, not a code it would retry at once.
	ErrCheckpoint = errors.New("server: source could not make a checkpoint")
	ErrChanged    = errors.New("server: checkpoint file changed")
	// ErrDataLoss: the store's copy of a snapshot is damaged (a
	// repository's chunk or manifest that does not verify, or is gone); the
	// caller must not retry.
	ErrDataLoss = errors.New("server: snapshot damaged")
	// ErrUnavailable: the store could not be read for now (a repository's
	// backend failed); the caller may retry.
	ErrUnavailable     = errors.New("server: store unavailable")
	ErrUnsupportedFile = errors.New("server: unsupported file in checkpoint")
	// ErrBadSource is source.ErrBadSource.
	ErrBadSource     = source.ErrBadSource
	ErrBadConfig     = errors.New("server: bad config")
	ErrWorkDirLocked = errors.New("server: work dir in use by another server")
	ErrClosed        = errors.New("server: closed")
)

// errorTable maps the server's errors to what a client sees: the first
// entry err matches (errors.Is) gives the Connect code and the reason
// (package reason); anything else is INTERNAL. The one place where errors
// become codes and reasons (toConnect).
var errorTable = []struct {
	err    error
	code   connect.Code
	reason string
}{
	{source.ErrNoMaker, connect.CodeFailedPrecondition, reason.NoCheckpointMaker},
	{source.ErrMakeTimeout, connect.CodeFailedPrecondition, reason.CheckpointTimeout},
	{ErrMinIndex, connect.CodeFailedPrecondition, reason.MinIndexNotReached},
	{ErrCheckpoint, connect.CodeFailedPrecondition, reason.CheckpointFailed},
	{ErrUnknownSnapshot, connect.CodeNotFound, reason.UnknownSnapshot},
	{ErrUnknownLease, connect.CodeNotFound, reason.LeaseExpired},
	{ErrBadRequest, connect.CodeInvalidArgument, reason.BadRequest},
	{ErrTooManyStreams, connect.CodeResourceExhausted, reason.TooManyStreams},
	{ErrChanged, connect.CodeDataLoss, reason.CheckpointChanged},
	{ErrDataLoss, connect.CodeDataLoss, reason.DataLoss},
	{ErrUnavailable, connect.CodeUnavailable, reason.PeerUnavailable},
	{ErrClosed, connect.CodeUnavailable, reason.ShuttingDown},
	{context.Canceled, connect.CodeCanceled, reason.Canceled},
	{context.DeadlineExceeded, connect.CodeDeadlineExceeded, reason.DeadlineExceeded},
}

// classify returns the Connect code and reason a client sees for err, and
// the reason's metadata: a MinIndexError's indexes.
func classify(err error) (connect.Code, string, map[string]string) {
	var md map[string]string
	if mi := (*source.MinIndexError)(nil); errors.As(err, &mi) {
		md = map[string]string{reason.MetaMinIndex: strconv.FormatUint(mi.Want, 10)}
		if mi.Known {
			md[reason.MetaNewestIndex] = strconv.FormatUint(mi.Newest, 10)
		}
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.code, e.reason, md
		}
	}
	return connect.CodeInternal, reason.Internal, nil
}

// toConnect turns an error from the server's core into a *connect.Error
// with its reason (a google.rpc.ErrorInfo detail): the one place where
// errors are mapped to codes and reasons.
func toConnect(err error) error {
	if err == nil {
		return nil
	}
	code, r, md := classify(err)
	var ce *connect.Error
	if errors.As(err, &ce) {
		if _, _, ok := reason.Of(ce); !ok {
			reason.Attach(ce, r, md)
		}
		return ce
	}
	return reason.New(code, err, r, md)
}
