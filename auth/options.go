package auth

import "github.com/rs/zerolog"

// Option configures NewServerTLS, NewClientTLS and LoadToken.
type Option func(*options)

type options struct {
	log zerolog.Logger
}

func newOptions(opts []Option) options {
	o := options{log: zerolog.Nop()}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithLogger logs what happens to the files read: a reload at info, a
// reload that failed (the last good value stays in use) and a key or token
// file that others may read at warn. Default: no logs.
func WithLogger(log zerolog.Logger) Option { return func(o *options) { o.log = log } }
