package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// writeJSON prints v as indented JSON, the form of every --json output.
func (e *session) writeJSON(v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readStdin reads a site file from standard input, bounded.
func readStdin(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxStdin+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxStdin {
		return nil, fmt.Errorf("standard input is larger than %d MiB: a site file is much smaller", maxStdin>>20)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, usageErr("standard input is empty: pipe a site file in, e.g. ssh <gateway> config import < site.yaml")
	}
	return b, nil
}

func warnIf(b bool, s string) string {
	if b {
		return s
	}
	return ""
}
