package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"

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
	case errors.Is(err, ErrMinIndex):
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

// ReasonKey is the error metadata (a gRPC trailer) that tells apart the
// FailedPrecondition errors a client acts on differently: ReasonMinIndex, no
// checkpoint reaches the index asked for (ask another sidecar);
// ReasonCheckpoint, the source failed to make one (try again later).
const (
	ReasonKey        = "Snapsync-Reason"
	ReasonMinIndex   = "min-index"
	ReasonCheckpoint = "checkpoint-failed"
)

// toConnect turns an error from the server's core into a *connect.Error: the
// one place where errors are mapped to codes.
func toConnect(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	ce = connect.NewError(codeOf(err), err)
	switch {
	case errors.Is(err, ErrMinIndex):
		ce.Meta().Set(ReasonKey, ReasonMinIndex)
	case errors.Is(err, ErrCheckpoint):
		ce.Meta().Set(ReasonKey, ReasonCheckpoint)
	}
	return ce
}
