package device

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeSiteYAML feeds arbitrary bytes to the site file reader. It must
// never panic, and a file that decodes and validates must export to bytes
// that import and export again identically.
func FuzzDecodeSiteYAML(f *testing.F) {
	files, err := filepath.Glob("../testdata/sites/*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		"",
		"site: {name: x}\n",
		"site: &a {name: x, <<: *a}\n",
		"site: {name: x}\n---\nsite: {name: y}\n",
		"- a\n",
		`{"site": {"name": "json"}, "access": {"require_2fa": []}}`,
		"modbus: {devices: [&d {name: d, points: [&p {name: p}, *p]}, *d]}\n",
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseSite(data)
		s, err := DecodeSiteYAML(data)
		if err != nil {
			if s != nil {
				t.Fatalf("DecodeSiteYAML returned a site and an error")
			}
			return
		}
		if s.Validate() != nil {
			return
		}
		out1, err := EncodeSiteYAML(s)
		if err != nil {
			t.Fatalf("valid site does not encode: %v", err)
		}
		s2, err := DecodeSiteYAML(out1)
		if err != nil {
			t.Fatalf("export does not decode: %v\n%s", err, out1)
		}
		if err := s2.Validate(); err != nil {
			t.Fatalf("export does not validate: %v\n%s", err, out1)
		}
		out2, err := EncodeSiteYAML(s2)
		if err != nil {
			t.Fatalf("second encode: %v", err)
		}
		if !bytes.Equal(out1, out2) {
			t.Fatalf("export is not stable:\n%s\n---\n%s", out1, out2)
		}
	})
}
