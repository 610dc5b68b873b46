// Package safe runs functions that must not take the process down with a
// panic: a panic is recovered and logged (with the request id of the context,
// when there is one) instead.
//
// Every goroutine the service starts outside an HTTP handler's own recovery
// goes through Go, or calls Call in its body:
//
//	safe.Go(ctx, log, "record token last use", func(ctx context.Context) { … })
//
//	g.Go(func() error { return safe.Call(ctx, log, "ingest worker", work) })
package safe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/scimless/scimless/pkg/reqlog"
)

// ErrPanic is wrapped by the error Call returns when its function panicked.
var ErrPanic = errors.New("panic")

// Go runs fn(ctx) in a new goroutine. If fn panics, the panic is recovered
// and logged on log (at level error, message "goroutine panic", with name,
// the panic value, the stack and the request id ctx carries) and the
// goroutine ends; the process goes on. A nil log logs to slog.Default().
func Go(ctx context.Context, log *slog.Logger, name string, fn func(ctx context.Context)) {
	go func() {
		defer func() {
			if v := recover(); v != nil {
				logPanic(ctx, log, name, v)
			}
		}()
		fn(ctx)
	}()
}

// Call runs fn(ctx) in the calling goroutine and returns its error. If fn
// panics, the panic is recovered and logged as by Go, and Call returns an
// error wrapping ErrPanic that names the panic value.
func Call(ctx context.Context, log *slog.Logger, name string, fn func(ctx context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			logPanic(ctx, log, name, v)
			err = fmt.Errorf("%s: %w: %v", name, ErrPanic, v)
		}
	}()
	return fn(ctx)
}

func logPanic(ctx context.Context, log *slog.Logger, name string, v any) {
	if log == nil {
		log = slog.Default()
	}
	attrs := []slog.Attr{
		slog.String("goroutine", name),
		slog.String("panic", fmt.Sprint(v)),
		slog.String("stack", string(debug.Stack())),
	}
	if id := reqlog.IDFrom(ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	log.LogAttrs(ctx, slog.LevelError, "goroutine panic", attrs...)
}
