// Package chat renders a model's chat template the way transformers'
// apply_chat_template does, so that prompts and training text carry the exact
// layout an instruct model was tuned on.
//
// Templates are Jinja source from tokenizer_config.json's "chat_template" (a
// string, or the list-of-named-templates form), from chat_template.jinja and
// additional_chat_templates/*.jinja beside it (which win, as in transformers 5),
// or from a GGUF file's tokenizer.chat_template. They are rendered with
// github.com/ardanlabs/jinja, a Jinja engine made for chat templates, under
// the settings transformers uses: trim_blocks and lstrip_blocks, a tojson that
// keeps key order and non-ASCII text, raise_exception and strftime_now.
//
// Template inputs go through JSON with key order kept (a message's keys, a tool
// schema's properties), because templates print them with tojson and
// transformers keeps Python's insertion order.
package chat
