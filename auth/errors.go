package auth

import (
	"errors"
	"net/http"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/reason"
)

var (
	// ErrConfig wraps every problem with the files or settings given.
	ErrConfig = errors.New("auth: bad configuration")
	// ErrUnauthenticated means the caller did not prove who it is: no
	// verified client certificate where one is required, or a missing or
	// wrong token.
	ErrUnauthenticated = errors.New("auth: unauthenticated")
	// ErrPermissionDenied means the caller proved who it is, and that name
	// is not on the allow-list.
	ErrPermissionDenied = errors.New("auth: peer not allowed")
)

// Refusal returns the error a refused caller sees for err (ErrUnauthenticated
// or ErrPermissionDenied): a *connect.Error with its reason (package reason)
// and the HTTP status for a caller that does not speak Connect, gRPC or
// gRPC-Web.
func Refusal(err error) (*connect.Error, int) {
	if errors.Is(err, ErrPermissionDenied) {
		return reason.New(connect.CodePermissionDenied, err, reason.PermissionDenied, nil), http.StatusForbidden
	}
	return reason.New(connect.CodeUnauthenticated, err, reason.Unauthenticated, nil), http.StatusUnauthorized
}

// WriteRefusal answers r with the refusal for err, in the protocol r speaks
// (gRPC, gRPC-Web or Connect; plain HTTP 401/403 otherwise). Every guard of
// a listener refuses through it.
func WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	ce, status := Refusal(err)
	if ew := connect.NewErrorWriter(); ew.IsSupported(r) {
		_ = ew.Write(w, r, ce) // the caller is gone if this fails; nothing else to tell
		return
	}
	http.Error(w, err.Error(), status)
}
