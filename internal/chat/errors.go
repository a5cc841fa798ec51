package chat

import "errors"

var (
	// ErrNoTemplate: the model directory (or GGUF file) has no chat template.
	ErrNoTemplate = errors.New("model has no chat template")
	// ErrTemplate: the template does not parse, fails while rendering, or
	// called raise_exception (the message is kept in the error text).
	ErrTemplate = errors.New("chat template error")
	// ErrInput: messages, tools or variables that cannot be given to a
	// template (bad JSON, a message without a role, an empty conversation).
	ErrInput = errors.New("invalid chat input")
	// ErrSpan: an assistant turn could not be located in the rendered text
	// (the template rewrites the message, or ends the turn without the
	// end-of-turn text).
	ErrSpan = errors.New("assistant turn not found in rendered text")
)
