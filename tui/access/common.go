package access

import (
	_ "embed"
	"strings"
)

//go:embed common-passwords.txt
var commonList string

var common = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonList, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}()

// lookAlikes undoes the usual substitutions of digits and symbols for
// letters. '1' and '!' stand for both 'i' and 'l', so both readings are
// tried.
var lookAlikes = []*strings.Replacer{
	strings.NewReplacer("@", "a", "4", "a", "8", "b", "3", "e", "1", "i", "!", "i", "0", "o", "$", "s", "5", "s", "7", "t", "9", "g", "+", "t"),
	strings.NewReplacer("@", "a", "4", "a", "8", "b", "3", "e", "1", "l", "!", "l", "0", "o", "$", "s", "5", "s", "7", "t", "9", "g", "+", "t"),
}

// isCommon reports whether password is a listed common password, possibly
// disguised with look-alike characters and padded with digits or symbols.
func isCommon(password string) bool {
	lower := strings.ToLower(password)
	if common[lower] {
		return true
	}
	// Strip the padding people add to satisfy a policy ("Summer2026!"),
	// then read look-alikes as letters ("P@ssw0rd").
	core := strings.TrimFunc(lower, func(r rune) bool { return !(r >= 'a' && r <= 'z') })
	for _, candidate := range []string{core, stripPadding(lower)} {
		for _, r := range lookAlikes {
			word := r.Replace(candidate)
			if common[word] || common[strings.TrimFunc(word, func(r rune) bool { return !(r >= 'a' && r <= 'z') })] {
				return true
			}
		}
	}
	return false
}

// stripPadding removes trailing digits and symbols, keeping look-alike
// characters inside the word.
func stripPadding(s string) string {
	return strings.TrimRightFunc(s, func(r rune) bool {
		return r >= '0' && r <= '9' || strings.ContainsRune(Special+".-_", r)
	})
}
