package tokenizer

// TokenBytes returns the bytes id contributes to a decoded text, before the
// result is made valid UTF-8 (a token may hold part of a character), for
// code that works on the output byte by byte, such as constrained decoding.
// ok is false for ids that stand for no token, for special tokens (Decode
// with skipSpecialTokens leaves them out) and when the tokenizer has no
// ByteLevel decoder (Decode then joins token strings with spaces, so a
// token's text depends on its neighbours).
func (t *Tokenizer) TokenBytes(id int) ([]byte, bool) {
	e, ok := t.entry(id)
	if !ok || e.special || !t.byteLevelDecoder {
		return nil, false
	}
	return e.bytes, true
}
