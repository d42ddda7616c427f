package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// Token is an admin token and the name the configuration gives it; the
// name, never the token, appears in logs and in the audit log.
type Token struct {
	Name  string
	Value string
}

// clientKey holds, in a request's context, who sent it.
type clientKey struct{}

// client is who sent an admin request: the token's name and the address
// the request came from.
type client struct {
	Token   string
	Address string
}

func clientOf(ctx context.Context) client {
	c, _ := ctx.Value(clientKey{}).(client)
	return c
}

// authenticate finds which configured token a request carries, as a
// bearer token (the admin API) or as the password of HTTP Basic
// authentication (a browser asking for the status page). Every token is
// compared, each in constant time over hashes of both sides, so neither
// the time taken nor an early exit tells which token or how long it is.
func (s *Server) authenticate(r *http.Request) (name string, err error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return "", errorf(http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <admin token>")
	}
	scheme, credentials, ok := strings.Cut(header, " ")
	var presented string
	switch {
	case ok && strings.EqualFold(scheme, "Bearer"):
		presented = strings.TrimSpace(credentials)
	case ok && strings.EqualFold(scheme, "Basic"):
		if _, password, ok := r.BasicAuth(); ok {
			presented = password
		}
	default:
		return "", errorf(http.StatusUnauthorized, "unsupported authorization scheme: send Authorization: Bearer <admin token>")
	}
	got := sha256.Sum256([]byte(presented))
	for _, t := range s.opts.Tokens {
		want := sha256.Sum256([]byte(t.Value))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 && name == "" {
			name = t.Name
		}
	}
	if name == "" {
		return "", errorf(http.StatusUnauthorized, "invalid admin token")
	}
	return name, nil
}

// guarded serves next to clients that authenticate, and logs every
// request with the client's address and the token's name: info when
// served, warn when refused.
func (s *Server) guarded(next http.Handler, refuse func(w http.ResponseWriter, r *http.Request, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		log := s.opts.Log.With().Str("client_address", r.RemoteAddr).Str("method", r.Method).
			Str("path", bounded(r.URL.Path)).Logger()
		name, err := s.authenticate(r)
		if err != nil {
			log.Warn().Str("refused", err.Error()).Msg("admin request refused")
			refuse(w, r.WithContext(log.WithContext(r.Context())), err)
			return
		}
		log = log.With().Str("token", name).Logger()
		ctx := context.WithValue(log.WithContext(r.Context()), clientKey{}, client{Token: name, Address: r.RemoteAddr})
		rec := &StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		log.Info().Int("status", rec.Code()).Int64("took_ms", time.Since(start).Milliseconds()).Msg("admin request")
	})
}

// bounded cuts a value that came from outside (a path, a header) to what
// a log line needs.
func bounded(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// StatusRecorder remembers the status a handler answered (Code).
type StatusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *StatusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Code is the status answered; 200 when the handler set none, as
// net/http then answers.
func (s *StatusRecorder) Code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}
