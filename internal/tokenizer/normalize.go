package tokenizer

import "golang.org/x/text/unicode/norm"

// normForm is one Unicode normalization form applied by the normalizer.
type normForm = norm.Form

var normForms = map[string]normForm{
	"NFC":  norm.NFC,
	"NFD":  norm.NFD,
	"NFKC": norm.NFKC,
	"NFKD": norm.NFKD,
}

// normalize applies the tokenizer's normalizer to s. Already-normalized input
// (the common case) is returned without copying.
func (t *Tokenizer) normalize(s string) string {
	for _, f := range t.normalizer {
		if !f.IsNormalString(s) {
			s = f.String(s)
		}
	}
	return s
}
