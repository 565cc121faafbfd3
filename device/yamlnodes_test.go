package device

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// yamlNodes counts the nodes yaml.v3 builds for data, every document
// included, and whether it parsed all of it.
func yamlNodes(data []byte) (int, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	total := 0
	for {
		var doc yaml.Node
		err := safeDecode(dec, &doc)
		if errors.Is(err, io.EOF) {
			return total, true
		}
		if err != nil {
			return total, false
		}
		total += countAll(&doc)
	}
}

func countAll(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countAll(k)
	}
	return c
}

var estimateCases = []string{
	"a: b\n",
	"a: b",
	"- a: b\n  c: d\n",
	"- - - - a\n",
	"{a, b, c, d}",
	"{a,b,c,d}",
	"[a: b, c: d, e]",
	"[? a, ? b]",
	"{: a, : b}",
	"[[a: b], [c: d]]",
	"? a\n? b\n",
	"? a\n: b\n",
	"a:\n- b\n- c\n",
	"a: x\n  'y\nb: [1, 2, 3]\nc: 'z'\n",
	"- a:\n    x\n  b: [1, 2, 3, 4]\n",
	"k: \"a\n b\" \nz: [1, 2]\n",
	"a: |\n  'quoted\n  [x\nb: {c, d, e}\n",
	"&a [*a, *a, *a]",
	"a: &x {b: c}\nd: *x\n",
	"!!map {a: !!str b, c}",
	"--- a\n--- {b, c}\n",
	"%YAML 1.2\n---\na: [b, c]\n",
	"a: 'it''s {x, y}'\nb: [c, d]\n",
	"a: \"\\\"[\" \nb: {c, d}\n",
	"[a, # comment ]\n b, c]",
	"a: b # c: [d, e]\n",
	"{\"a\":b, \"c\":d, e}",
	"a:\r\n  - b\r\n  - c\r\n",
	"a: x\u2028b: [c, d]\n",
	"- 'x\n  y': [a, b]\n",
	"? [a, b]\n: {c, d}\n",
}

func TestNodeEstimateIsAnUpperBound(t *testing.T) {
	cases := append([]string{}, estimateCases...)
	for _, f := range []string{"demo.yaml", "full.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "sites", f))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		got, ok := yamlNodes([]byte(c))
		if !ok {
			continue
		}
		if est := estimateNodes([]byte(c), 1<<30); est < got {
			t.Errorf("%.60q: estimate %d < %d nodes", c, est, got)
		}
	}
}

// The file of the issue — 391,000 keys in 4 MiB — is refused before the
// parser builds its tree: decoding it allocates next to nothing.
func TestOversizedNodeCountIsRefusedBeforeParsing(t *testing.T) {
	var b strings.Builder
	b.WriteString("site: {name: x}\n")
	for i := range 391_000 {
		fmt.Fprintf(&b, "k%06d: v\n", i)
	}
	data := []byte(b.String())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodeSiteYAML(data)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrSiteTooComplex) {
		t.Fatalf("err = %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("refusing a %d-byte file allocated %d bytes: the tree was built", len(data), alloc)
	}
	// The same shape within the budget still decodes (to unknown fields).
	small := strings.Join(strings.SplitAfter(string(data), "\n")[:1000], "")
	var ve *ValidationError
	if _, err := DecodeSiteYAML([]byte(small)); !errors.As(err, &ve) {
		t.Fatalf("small file: %v", err)
	}
}

func TestUTF16SiteFileIsRefused(t *testing.T) {
	if _, err := DecodeSiteYAML([]byte{0xFF, 0xFE, 's', 0, 'i', 0}); !errors.Is(err, ErrSiteSyntax) || !strings.Contains(err.Error(), "UTF-16") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzSiteNodeEstimate checks estimateNodes against yaml.v3 itself: for
// every input the parser accepts, the estimate is at least the number of
// nodes it built. An estimate below that would let a file past the node
// budget.
func FuzzSiteNodeEstimate(f *testing.F) {
	for _, c := range estimateCases {
		f.Add([]byte(c))
	}
	for _, name := range []string{"demo.yaml", "full.yaml"} {
		if b, err := os.ReadFile(filepath.Join("..", "testdata", "sites", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<14 {
			return
		}
		est := estimateNodes(data, 1<<30)
		got, ok := yamlNodes(data)
		if ok && est < got {
			t.Fatalf("estimate %d < %d nodes for %q", est, got, data)
		}
	})
}
