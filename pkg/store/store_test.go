package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestIsTxConflict checks which errors count as a collision with a
// concurrent transaction (ErrBusy, retried by callers): a cancelled
// transaction with a TransactionConflict reason and a single write refused
// with TransactionConflictException, but not a failed condition.
func TestIsTxConflict(t *testing.T) {
	cancelled := func(codes ...string) error {
		e := &types.TransactionCanceledException{}
		for _, c := range codes {
			e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
		}
		return fmt.Errorf("write: %w", e)
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"transaction conflict", cancelled("None", "TransactionConflict"), true},
		{"single write conflict", fmt.Errorf("put: %w", &types.TransactionConflictException{}), true},
		{"condition failed", cancelled("ConditionalCheckFailed", "None"), false},
		{"other", errors.New("boom"), false},
	} {
		if got := isTxConflict(tc.err); got != tc.want {
			t.Errorf("%s: isTxConflict = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCreateTableInputStream: the table is created with the stream that
// directory events are derived from, with both item images.
func TestCreateTableInputStream(t *testing.T) {
	sp := CreateTableInput("scimless").StreamSpecification
	if sp == nil || !aws.ToBool(sp.StreamEnabled) || sp.StreamViewType != types.StreamViewTypeNewAndOldImages {
		t.Fatalf("stream specification %+v, want NEW_AND_OLD_IMAGES enabled", sp)
	}
}
