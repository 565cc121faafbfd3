package node

import (
	"encoding/hex"
	"strings"
)

func hexDecode(s string) ([]byte, error) {
	return hex.DecodeString(strings.Join(strings.Fields(s), ""))
}
