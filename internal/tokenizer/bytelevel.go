package tokenizer

import (
	"unicode/utf8"

	"github.com/sugarme/tokenizer/pretokenizer"
)

// byteChar maps each byte to the printable character that stands for it in a
// byte-level vocabulary (GPT-2's bytes_to_unicode: printable bytes map to
// themselves, the others to U+0100 upward, so a space is 'Ġ'). The table is
// sugarme/tokenizer's pretokenizer.BytesChar, which is correct.
var byteChar [256]rune

// charByte is the inverse of byteChar.
var charByte = map[rune]byte{}

func init() {
	for b, s := range pretokenizer.BytesChar {
		r, _ := utf8.DecodeRuneInString(s)
		byteChar[b] = r
		charByte[r] = b
	}
}

// byteLevelToBytes maps a byte-level token string (such as "Ġthe") back to
// the bytes it stands for. ok is false when a character is outside the byte
// alphabet; Hugging Face's ByteLevel decoder then uses the token's own UTF-8
// bytes, and so do we.
func byteLevelToBytes(tok string) (b []byte, ok bool) {
	b = make([]byte, 0, len(tok))
	for _, r := range tok {
		c, found := charByte[r]
		if !found {
			return nil, false
		}
		b = append(b, c)
	}
	return b, true
}

// bytesToByteLevel maps raw bytes to their byte-level string (the inverse of
// byteLevelToBytes).
func bytesToByteLevel(b string) string {
	out := make([]rune, 0, len(b))
	for i := 0; i < len(b); i++ {
		out = append(out, byteChar[b[i]])
	}
	return string(out)
}
