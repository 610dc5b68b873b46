package localdb

import (
	"errors"
	"fmt"
)

// apiError is an error DynamoDB reports to the client: its type (the
// "__type" suffix) and message, plus the extra fields some types carry.
type apiError struct {
	typ     string
	msg     string
	status  int
	item    item           // ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure
	reasons []cancelReason // TransactionCanceledException
}

type cancelReason struct {
	Code    string `json:"Code"`
	Message string `json:"Message,omitempty"`
	Item    item   `json:"Item,omitempty"`
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func validationf(format string, args ...any) *apiError {
	return &apiError{typ: "ValidationException", msg: fmt.Sprintf(format, args...)}
}

func notFound(table string) *apiError {
	return &apiError{typ: "ResourceNotFoundException", msg: "Requested resource not found: Table: " + table + " not found"}
}

func conditionFailed(old item) *apiError {
	return &apiError{typ: "ConditionalCheckFailedException", msg: "The conditional request failed", item: old}
}

// asAPIError turns any error into the apiError the client sees.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ee *exprErr
	if errors.As(err, &ee) {
		return validationf("%s", ee.msg)
	}
	return &apiError{typ: "InternalServerError", msg: err.Error(), status: 500}
}

// exprError labels an expression parse error with the expression's
// parameter name, as DynamoDB does ("Invalid UpdateExpression: ...").
func exprError(param string, err error) error {
	var ee *exprErr
	if errors.As(err, &ee) {
		return validationf("Invalid %s: %s", param, ee.msg)
	}
	return err
}
