package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// apiError is an error in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}}.
type apiError struct {
	status     int
	Message    string  `json:"message"`
	Type       string  `json:"type"`
	Param      *string `json:"param"`
	Code       *string `json:"code"`
	retryAfter int
}

func (e *apiError) Error() string { return e.Message }

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// badRequest is a 400 naming the request field at fault.
func badRequest(param, code, format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, Message: fmt.Sprintf(format, a...), Type: "invalid_request_error", Param: strp(param), Code: strp(code)}
}

func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]*apiError{"error": e})
}

// jsonType names the JSON type that decodes into t.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint64:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array"
	}
	return "an object"
}

// decodeError turns a JSON decoding error into a 400 naming the field.
func decodeError(err error) *apiError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var me *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		field := strings.TrimPrefix(te.Field, "sampling.")
		if field == "" {
			return badRequest("", "invalid_type", "request body must be a JSON object, not %s", te.Value)
		}
		return badRequest(field, "invalid_type", "%q has the wrong type: got a JSON %s, want %s", field, te.Value, jsonType(te.Type))
	case errors.As(err, &se):
		return badRequest("", "invalid_json", "request body is not valid JSON: %v (at byte %d)", err, se.Offset)
	case errors.As(err, &me):
		return &apiError{status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", me.Limit), Type: "invalid_request_error"}
	}
	return badRequest("", "invalid_json", "request body is not valid JSON: %v", err)
}
