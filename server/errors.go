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
	ErrCheckpoint      = errors.New("server: source could not make a checkpoint")
	ErrChanged         = errors.New("server: checkpoint file changed")
	ErrUnsupportedFile = errors.New("server: unsupported file in checkpoint")
	// ErrBadSource is source.ErrBadSource.
	ErrBadSource     = source.ErrBadSource
	ErrBadConfig     = errors.New("server: bad config")
	ErrWorkDirLocked = errors.New("server: work dir in use by another server")
	ErrClosed        = errors.New("server: closed")
)

// codeOf returns the Connect code a client sees for err.
func codeOf(err error) connect.Code {
	switch {
	case errors.Is(err, ErrUnknownSnapshot), errors.Is(err, ErrUnknownLease):
		return connect.CodeNotFound
	case errors.Is(err, ErrBadRequest):
		return connect.CodeInvalidArgument
	case errors.Is(err, ErrTooManyStreams):
		return connect.CodeResourceExhausted
	case errors.Is(err, ErrMinIndex), errors.Is(err, source.ErrNoMaker), errors.Is(err, source.ErrMakeTimeout):
		return connect.CodeFailedPrecondition
	case errors.Is(err, ErrChanged):
		return connect.CodeDataLoss
	case errors.Is(err, ErrClosed):
		return connect.CodeUnavailable
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded
	case errors.Is(err, ErrCheckpoint):
		return connect.CodeFailedPrecondition
	}
	return connect.CodeInternal
}

// reasonOf returns the reason (package reason) a client sees for err, and its
// metadata.
func reasonOf(err error) (string, map[string]string) {
	var mi *source.MinIndexError
	var md map[string]string
	if errors.As(err, &mi) {
		md = map[string]string{reason.MetaMinIndex: strconv.FormatUint(mi.Want, 10)}
		if mi.Known {
			md[reason.MetaNewestIndex] = strconv.FormatUint(mi.Newest, 10)
		}
	}
	switch {
	case errors.Is(err, source.ErrNoMaker):
		return reason.NoCheckpointMaker, md
	case errors.Is(err, source.ErrMakeTimeout):
		return reason.CheckpointTimeout, md
	case mi != nil:
		return reason.MinIndexNotReached, md
	case errors.Is(err, ErrMinIndex):
		return reason.MinIndexNotReached, nil
	case errors.Is(err, ErrCheckpoint):
		return reason.CheckpointFailed, nil
	case errors.Is(err, ErrUnknownSnapshot):
		return reason.UnknownSnapshot, nil
	case errors.Is(err, ErrUnknownLease):
		return reason.LeaseExpired, nil
	case errors.Is(err, ErrBadRequest):
		return reason.BadRequest, nil
	case errors.Is(err, ErrTooManyStreams):
		return reason.TooManyStreams, nil
	case errors.Is(err, ErrChanged):
		return reason.CheckpointChanged, nil
	case errors.Is(err, ErrClosed):
		return reason.ShuttingDown, nil
	case errors.Is(err, context.Canceled):
		return reason.Canceled, nil
	case errors.Is(err, context.DeadlineExceeded):
		return reason.DeadlineExceeded, nil
	}
	return reason.Internal, nil
}

// toConnect turns an error from the server's core into a *connect.Error
// with its reason (a google.rpc.ErrorInfo detail): the one place where
// errors are mapped to codes and reasons.
func toConnect(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		if _, _, ok := reason.Of(ce); !ok {
			r, md := reasonOf(err)
			reason.Attach(ce, r, md)
		}
		return ce
	}
	r, md := reasonOf(err)
	return reason.New(codeOf(err), err, r, md)
}
