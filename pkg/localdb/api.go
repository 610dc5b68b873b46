package localdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxRequestBody bounds a request body (DynamoDB's largest requests, a
// 100-action transaction of 400 KB items, stay far below it).
const maxRequestBody = 16 << 20

func (e *Engine) serveHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			writeError(w, &apiError{typ: "InternalServerError", status: 500, msg: fmt.Sprint("internal error: ", v)})
		}
	}()
	target := r.Header.Get("X-Amz-Target")
	prefix, op, _ := strings.Cut(target, ".")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		writeError(w, &apiError{typ: "SerializationException", msg: "read body: " + err.Error()})
		return
	}
	if len(body) > maxRequestBody {
		writeError(w, validationf("Request size exceeds the maximum allowed"))
		return
	}
	var resp any
	switch prefix {
	case "DynamoDB_20120810":
		resp, err = e.dispatch(op, body)
	case "DynamoDBStreams_20120810":
		switch op {
		case "ListStreams":
			resp, err = e.listStreams(body)
		case "DescribeStream":
			resp, err = e.describeStream(body)
		case "GetShardIterator":
			resp, err = e.getShardIterator(body)
		case "GetRecords":
			resp, err = e.getRecords(body)
		default:
			err = &apiError{typ: "UnknownOperationException", msg: "unknown operation " + op}
		}
	default:
		err = &apiError{typ: "UnknownOperationException", msg: "unknown target " + target}
	}
	if err != nil {
		writeError(w, asAPIError(err))
		return
	}
	out, ok := resp.(json.RawMessage)
	if !ok {
		out, err = json.Marshal(resp)
	}
	if err != nil {
		writeError(w, &apiError{typ: "InternalServerError", status: 500, msg: "encode response: " + err.Error()})
		return
	}
	writeBody(w, http.StatusOK, out)
}

func (e *Engine) dispatch(op string, body []byte) (any, error) {
	switch op {
	case "CreateTable":
		return e.createTable(body)
	case "DescribeTable":
		return e.describeTable(body)
	case "DeleteTable":
		return e.deleteTable(body)
	case "UpdateTable":
		return e.updateTable(body)
	case "ListTables":
		return e.listTables(body)
	case "UpdateTimeToLive":
		return e.updateTTL(body)
	case "DescribeTimeToLive":
		return e.describeTTL(body)
	case "GetItem":
		return e.getItem(body)
	case "PutItem":
		return e.putItem(body)
	case "UpdateItem":
		return e.updateItem(body)
	case "DeleteItem":
		return e.deleteItem(body)
	case "Query":
		return e.query(body)
	case "Scan":
		return e.scan(body)
	case "BatchGetItem":
		return e.batchGet(body)
	case "BatchWriteItem":
		return e.batchWrite(body)
	case "TransactWriteItems":
		return e.transactWrite(body)
	case "TransactGetItems":
		return e.transactGet(body)
	case "DescribeEndpoints":
		return map[string]any{"Endpoints": []map[string]any{{"Address": "localhost", "CachePeriodInMinutes": 1440}}}, nil
	}
	return nil, &apiError{typ: "UnknownOperationException", msg: "The embedded engine does not implement " + op}
}

// decode parses a request body; a malformed value is a ValidationException
// as in DynamoDB.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return ae
		}
		return &apiError{typ: "SerializationException", msg: err.Error()}
	}
	return nil
}

func writeError(w http.ResponseWriter, ae *apiError) {
	// DynamoDB and DynamoDB Streams both name errors in this namespace.
	m := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#" + ae.typ, "message": ae.msg}
	if ae.item != nil {
		m["Item"] = ae.item
	}
	if ae.reasons != nil {
		m["CancellationReasons"] = ae.reasons
	}
	status := ae.status
	if status == 0 {
		status = http.StatusBadRequest
	}
	out, _ := json.Marshal(m)
	writeBody(w, status, out)
}

// writeBody writes the answer b with status. b is not used again by the
// caller.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	// The SDK verifies the body against X-Amz-Crc32, as DynamoDB sends it.
	vals := [...]string{"application/x-amz-json-1.0", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10), strconv.Itoa(len(b))}
	h["Content-Type"] = vals[0:1:1]
	h["X-Amz-Crc32"] = vals[1:2:2]
	h["Content-Length"] = vals[2:3:3]
	w.WriteHeader(status)
	if bs, ok := w.(bodySetter); ok {
		bs.setBody(b)
		return
	}
	_, _ = w.Write(b)
}
