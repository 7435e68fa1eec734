package auth

import "errors"

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
