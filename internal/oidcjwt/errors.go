package oidcjwt

import (
	"errors"
	"fmt"
)

// Errors callers branch on: every error this package returns is an
// *Error, and errors.Is(err, ErrInvalid) or errors.Is(err, ErrUnavailable)
// holds for it.
var (
	// ErrInvalid: the token is not one we accept (malformed, badly
	// signed, wrong issuer or audience, expired...).
	ErrInvalid = errors.New("token refused")
	// ErrUnavailable: the issuer's discovery document or keys could not
	// be fetched or are unusable; the token may be good, try again later.
	ErrUnavailable = errors.New("issuer unavailable")
)

// Error is a refusal or an unavailable issuer. Msg says what was wrong,
// where, and what was expected, without a prefix, so that callers can wrap
// it in their own sentinel.
type Error struct {
	Unavailable bool
	Msg         string
}

func (e *Error) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrInvalid) or errors.Is(err, ErrUnavailable) hold.
func (e *Error) Is(target error) bool {
	if e.Unavailable {
		return target == ErrUnavailable
	}
	return target == ErrInvalid
}

func refused(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

func unavailable(format string, args ...any) error {
	return &Error{Unavailable: true, Msg: fmt.Sprintf(format, args...)}
}

// Quote quotes an untrusted value for an error message, cut to a length
// that keeps messages readable and logs small.
func Quote(s string) string {
	const maxLen = 96
	if len(s) > maxLen {
		return fmt.Sprintf("%q…", s[:maxLen])
	}
	return fmt.Sprintf("%q", s)
}
