package sidecar

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/source/registry"
)

// Sentinel errors; match them with errors.Is. The handlers map them (and the
// errors of packages client and registry) to Connect codes in one place,
// toConnect.
var (
	// ErrBadConfig reports an InstallConfig that Validate refuses.
	ErrBadConfig = errors.New("sidecar: bad config")
	// ErrBadRequest reports a request with a missing or malformed field.
	ErrBadRequest = errors.New("sidecar: bad request")
	// ErrNotAllowed reports a destination that does not resolve strictly
	// below one of the allowed roots.
	ErrNotAllowed = errors.New("sidecar: destination not under an allowed root")
	// ErrNotPrepared reports a Commit with nothing prepared for the
	// destination.
	ErrNotPrepared = errors.New("sidecar: nothing prepared")
	// ErrUnknownSnapshot reports a Commit naming a snapshot other than the
	// prepared one.
	ErrUnknownSnapshot = errors.New("sidecar: not the prepared snapshot")
	// ErrPreparing reports a Commit while Prepare is still running.
	ErrPreparing = errors.New("sidecar: prepare still running")
	// ErrCommitting reports a Prepare, Commit or Abort while a Commit is under
	// way for the destination.
	ErrCommitting = errors.New("sidecar: commit under way")
	// ErrSuperseded ends a Prepare that a Prepare from another source, or
	// for a higher index, replaced; its message names the new source.
	ErrSuperseded = errors.New("sidecar: prepare superseded")
	// ErrAborted ends a Prepare that Abort stopped.
	ErrAborted = errors.New("sidecar: prepare aborted")
	// ErrClosed reports a call after Close, or a Prepare that Close stopped.
	ErrClosed = errors.New("sidecar: closed")
	// ErrNotLoopback reports a local listener address that is not loopback.
	ErrNotLoopback = errors.New("sidecar: local API address is not loopback")
)

// codeOf returns the Connect code a caller sees for err.
func codeOf(err error) connect.Code {
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, client.ErrConfig), errors.Is(err, registry.ErrRejected):
		return connect.CodeInvalidArgument
	case errors.Is(err, ErrNotAllowed):
		return connect.CodePermissionDenied
	case errors.Is(err, ErrUnknownSnapshot):
		return connect.CodeNotFound
	case errors.Is(err, ErrNotPrepared), errors.Is(err, ErrPreparing), errors.Is(err, ErrCommitting), errors.Is(err, client.ErrMinIndex),
		errors.Is(err, client.ErrNotStaged), errors.Is(err, client.ErrRecoverNeeded), errors.Is(err, client.ErrStaging):
		return connect.CodeFailedPrecondition
	case errors.Is(err, ErrSuperseded), errors.Is(err, ErrAborted), errors.Is(err, client.ErrBusy):
		return connect.CodeAborted
	case errors.Is(err, ErrClosed), errors.Is(err, client.ErrUnavailable):
		return connect.CodeUnavailable
	case errors.Is(err, client.ErrVerify):
		return connect.CodeDataLoss
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded
	}
	var ce *connect.Error
	if errors.As(err, &ce) { // e.g. client.ErrServer wrapping the peer's FailedPrecondition
		return ce.Code()
	}
	return connect.CodeInternal
}

// toConnect turns an error into the *connect.Error a caller sees: the one
// place where errors are mapped to codes.
func toConnect(err error) error {
	if err == nil {
		return nil
	}
	return connect.NewError(codeOf(err), err)
}
