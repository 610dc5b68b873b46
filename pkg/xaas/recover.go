package xaas

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/scimless/scimless/pkg/reqlog"
)

// errPanic wraps what a recovered goroutine panicked with.
type errPanic struct{ v any }

func (e *errPanic) Error() string { return fmt.Sprintf("internal error (panic: %v)", e.v) }

// recovered turns v, what recover returned in a goroutine's deferred
// function, into an error after logging it at level error as msg, with the
// stack, attrs and the request id ctx carries (if any). It returns nil when
// v is nil. Every goroutine of the package defers it, so that a bug in one
// request or one tenant's sync fails that request or step instead of the
// whole process.
func recovered(ctx context.Context, log *slog.Logger, msg string, v any, attrs ...slog.Attr) error {
	if v == nil {
		return nil
	}
	attrs = append(attrs, slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
	if id := reqlog.IDFrom(ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	log.LogAttrs(ctx, slog.LevelError, msg, attrs...)
	return &errPanic{v: v}
}
