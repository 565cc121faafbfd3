package device

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Bounds of a site file, sized from the largest plausible site: 300
// devices of 100 points each, every point spelled out. Exported by config
// export (points one per line, in flow style) it is 4.1 MB with 514,579
// YAML nodes (the node estimate says 574,588); in block style 6.9 MB; as
// JSON 4.1 MB. Importing it takes about 145 MiB of heap for a moment
// (the parser's node tree), which is why site-file operations run one at
// a time (Limiter).
const (
	// MaxSiteFileSize is the largest site file DecodeSiteYAML accepts.
	MaxSiteFileSize = 8 << 20
	// MaxSiteNodes bounds the YAML nodes of a site file: checked before
	// parsing (an upper bound from the bytes, estimateNodes), after it,
	// and while decoding, counting every alias expansion, so that neither
	// a file full of tiny nodes nor a small file full of aliases makes
	// decoding expensive.
	MaxSiteNodes = 640_000
)

const maxSiteNodes = MaxSiteNodes

// Errors of site files as a whole. Problems with single fields come as a
// *ValidationError instead.
var (
	// ErrSiteTooLarge: the file is over MaxSiteFileSize.
	ErrSiteTooLarge = errors.New("site file is too large")
	// ErrSiteEmpty: the file holds no document (or only comments, or null).
	ErrSiteEmpty = errors.New("site file is empty")
	// ErrSiteSyntax: the file is not YAML. The message carries the line.
	ErrSiteSyntax = errors.New("site file is not valid YAML")
	// ErrSiteNotMapping: the document is a list or a single value rather
	// than a mapping of sections.
	ErrSiteNotMapping = errors.New("site file is not a mapping")
	// ErrSiteMultipleDocuments: the file holds more than one YAML document.
	ErrSiteMultipleDocuments = errors.New("site file holds more than one YAML document")
	// ErrSiteTooComplex: the file has too many nodes once aliases are
	// expanded.
	ErrSiteTooComplex = errors.New("site file is too complex")
)

// DecodeSiteYAML reads a site file strictly and applies defaults. It does
// not validate (see ParseSite and Site.Validate).
//
// Every unknown field and every value of the wrong type is reported with its
// path in one *ValidationError, unknown fields with a suggestion when a known
// field is close: `modbus.devices[1].unti_id: unknown field (did you mean
// "unit_id"?)`. A file that is not one YAML mapping gives one of the ErrSite
// errors, wrapped with details. JSON is YAML, so the JSON form of a Site
// decodes too.
func DecodeSiteYAML(data []byte) (*Site, error) {
	s, list, _, err := decodeSite(data)
	if err != nil {
		return nil, err
	}
	if len(list) > 0 {
		return nil, &ValidationError{Problems: list}
	}
	return s, nil
}

// ParseSite is DecodeSiteYAML followed by Validate: it returns a valid site
// or every problem of the file, decoding and validation problems together.
// Secrets that read SecretPlaceholder are left as they are; call
// KeepSecrets before storing.
func ParseSite(data []byte) (*Site, error) {
	return parseSite(data, nil, false)
}

// ImportSiteYAML reads a site file that is to replace stored, the current
// site (nil when there is none): it decodes strictly, takes the stored
// secrets where the file says SecretPlaceholder (KeepSecrets), and
// validates. It returns a site ready to store, or the problems of all three
// steps together in file order, each with its line.
func ImportSiteYAML(data []byte, stored *Site) (*Site, error) {
	return parseSite(data, stored, true)
}

func parseSite(data []byte, stored *Site, keepSecrets bool) (*Site, error) {
	s, list, root, err := decodeSite(data)
	if err != nil {
		return nil, err
	}
	var v problems
	if keepSecrets {
		var ve *ValidationError
		if errors.As(s.KeepSecrets(stored), &ve) {
			v.list = append(v.list, ve.Problems...)
		}
	}
	s.validate(&v)
	decoded := list
	for _, p := range v.list {
		// A value that could not be decoded was left at zero; do not
		// report it a second time as out of range.
		if coveredBy(p.Path, decoded) {
			continue
		}
		if p.Line == 0 {
			p.Line = lineAt(root, p.Path)
		}
		list = append(list, p)
	}
	if len(list) > 0 {
		// File order: decoding problems and validation problems interleave.
		slices.SortStableFunc(list, func(a, b Problem) int { return cmp.Compare(lineKey(a), lineKey(b)) })
		return nil, &ValidationError{Problems: list}
	}
	return s, nil
}

// lineKey sorts problems without a line after those with one.
func lineKey(p Problem) int {
	if p.Line == 0 {
		return math.MaxInt
	}
	return p.Line
}

// coveredBy reports whether path is, or lies below, the path of one of ps.
func coveredBy(path string, ps []Problem) bool {
	for _, p := range ps {
		if p.Path == "" {
			continue
		}
		if path == p.Path || strings.HasPrefix(path, p.Path+".") || strings.HasPrefix(path, p.Path+"[") {
			return true
		}
	}
	return false
}

// lineAt returns the line of the value at path in the document under
// root, or of its nearest ancestor that the file has (a missing field is
// reported on the line of its parent). Aliases and merge keys are followed
// as the decoder follows them. Looking lines up on demand, rather than
// keeping one for every path decoded, saves a map entry per value of the
// file: 21 MiB for the largest plausible site.
func lineAt(root *yaml.Node, path string) int {
	n, line := root, root.Line
	for path != "" {
		var seg string
		switch i := strings.IndexAny(path, ".["); {
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return line
			}
			seg, path = path[:end+1], path[end+1:]
		case i < 0:
			seg, path = path, ""
		default:
			seg, path = path[:i], path[i:]
		}
		path = strings.TrimPrefix(path, ".")
		if n = childAt(n, seg, 0); n == nil {
			return line
		}
		line = n.Line
	}
	return line
}

// childAt returns the value of key seg ("name" or "[i]") under n.
func childAt(n *yaml.Node, seg string, depth int) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && depth < 32 {
		n, depth = n.Alias, depth+1
	}
	if n == nil || depth >= 32 {
		return nil
	}
	if strings.HasPrefix(seg, "[") {
		i, err := strconv.Atoi(seg[1 : len(seg)-1])
		if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
			return nil
		}
		return childAt(n.Content[i], "", depth)
	}
	if seg == "" || n.Kind != yaml.MappingNode {
		return n
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.ShortTag() == "!!merge" {
			merges = append(merges, n.Content[i+1])
		} else if k.Kind == yaml.ScalarNode && k.Value == seg {
			return childAt(n.Content[i+1], "", depth)
		}
	}
	for _, m := range merges {
		for m != nil && m.Kind == yaml.AliasNode && depth < 32 {
			m, depth = m.Alias, depth+1
		}
		sources := []*yaml.Node{m}
		if m != nil && m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			if c := childAt(src, seg, depth+1); c != nil {
				return c
			}
		}
	}
	return nil
}

// decodeSite decodes data into a Site with defaults applied. Field problems
// come back as a list next to the partly filled site, with the document's
// root for looking up lines (lineAt); file problems as err.
func decodeSite(data []byte) (*Site, []Problem, *yaml.Node, error) {
	root, err := parseDocument(data)
	if err != nil {
		return nil, nil, nil, err
	}
	var s Site
	d, err := decodeNode(root, &s)
	if err != nil {
		return nil, nil, nil, err
	}
	s.ApplyDefaults()
	return &s, d.v.list, root, nil
}

// decodeStrict decodes one YAML mapping into out (a pointer to a struct),
// with the checks of DecodeSiteYAML and no defaults.
func decodeStrict(data []byte, out any) error {
	root, err := parseDocument(data)
	if err != nil {
		return err
	}
	d, err := decodeNode(root, out)
	if err != nil {
		return err
	}
	return d.v.err()
}

func decodeNode(root *yaml.Node, out any) (*nodeDecoder, error) {
	d := &nodeDecoder{merging: map[*yaml.Node]bool{}}
	d.value("", root, reflect.ValueOf(out).Elem())
	if d.over {
		return nil, fmt.Errorf("%w: more than %d values once aliases are expanded", ErrSiteTooComplex, maxSiteNodes)
	}
	return d, nil
}

// parseDocument parses data into the root mapping node of its single
// document.
func parseDocument(data []byte) (*yaml.Node, error) {
	if len(data) > MaxSiteFileSize {
		return nil, fmt.Errorf("%w: %d bytes; the limit is %d bytes (%d MiB)", ErrSiteTooLarge, len(data), MaxSiteFileSize, MaxSiteFileSize>>20)
	}
	// The node estimate reads bytes as UTF-8; the YAML parser would also
	// take UTF-16, which no site file is.
	if bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		return nil, fmt.Errorf("%w: the file is UTF-16; save it as UTF-8", ErrSiteSyntax)
	}
	// Before the parser builds anything: it keeps every node in memory.
	if n := estimateNodes(data, maxSiteNodes); n > maxSiteNodes {
		return nil, fmt.Errorf("%w: more than %d values (a real site has far fewer)", ErrSiteTooComplex, maxSiteNodes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := safeDecode(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: write at least the site: section", ErrSiteEmpty)
		}
		return nil, syntaxError(err)
	}
	var extra yaml.Node
	switch err := safeDecode(dec, &extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(err)
	default:
		return nil, fmt.Errorf("%w: a second document starts at line %d; put the whole site in one document (remove the ---)", ErrSiteMultipleDocuments, max(extra.Line, 1))
	}

	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	switch {
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		return nil, fmt.Errorf("%w: write at least the site: section", ErrSiteEmpty)
	case root.Kind != yaml.MappingNode:
		return nil, fmt.Errorf("%w: the document is %s at line %d; a site file is a mapping of sections (site:, access:, modbus:, ...)", ErrSiteNotMapping, describeNode(root), root.Line)
	}
	if n := countNodes(root, 0); n > maxSiteNodes {
		return nil, fmt.Errorf("%w: more than %d values", ErrSiteTooComplex, maxSiteNodes)
	}
	return root, nil
}

// safeDecode turns a panic of the YAML parser into an error: the input
// comes from outside, and a parser bug must not take the gateway down.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failure: %v", r)
		}
	}()
	return dec.Decode(n)
}

func syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return fmt.Errorf("%w: %s", ErrSiteSyntax, msg)
}

// countNodes counts the nodes under n without following aliases, stopping
// early once over the limit.
func countNodes(n *yaml.Node, acc int) int {
	acc++
	for _, c := range n.Content {
		if acc > maxSiteNodes {
			break
		}
		acc = countNodes(c, acc)
	}
	return acc
}

// nodeDecoder decodes a yaml.Node tree into a Go value by the value's yaml
// tags, collecting every problem instead of stopping at the first.
type nodeDecoder struct {
	v       problems
	visits  int
	over    bool                // visits went over maxSiteNodes; stop
	merging map[*yaml.Node]bool // mappings being merged, to stop merge cycles
}

func (d *nodeDecoder) visit() bool {
	d.visits++
	if d.visits > maxSiteNodes {
		d.over = true
	}
	return !d.over
}

// resolve follows aliases to the node they name.
func (d *nodeDecoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if !d.visit() {
			return nil
		}
		n = n.Alias
	}
	return n
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

func (d *nodeDecoder) value(path string, n *yaml.Node, v reflect.Value) {
	n = d.resolve(n)
	if n == nil || !d.visit() {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		v.SetZero()
		return
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			d.v.addAt(path, n.Line, "expected a single value, got %s", describeNode(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.v.addAt(path, n.Line, "%s", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(path, n, v)
	case reflect.Slice:
		d.sequence(path, n, v)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.value(path, n, p.Elem())
		v.Set(p)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.v.addAt(path, n.Line, "expected text, got %s", describeNode(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.v.addAt(path, n.Line, "expected true or false, got %s", describeNode(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		tag := n.ShortTag()
		// YAML makes an integer too large for int64 a float.
		tooLarge := n.Kind == yaml.ScalarNode && tag == "!!float" && isDigits(strings.TrimLeft(n.Value, "+-"), 1, len(n.Value))
		if !tooLarge && (n.Kind != yaml.ScalarNode || tag != "!!int") {
			d.v.addAt(path, n.Line, "expected a whole number, got %s", describeNode(n))
			return
		}
		if tooLarge || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.v.addAt(path, n.Line, "%s is too large", describeNode(n))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || strings.HasPrefix(n.Value, "-") {
			d.v.addAt(path, n.Line, "expected a whole number 0 or more, got %s", describeNode(n))
			return
		}
		if n.Decode(&u) != nil || v.OverflowUint(u) {
			d.v.addAt(path, n.Line, "%s is too large", describeNode(n))
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || tag != "!!int" && tag != "!!float" || n.Decode(&f) != nil {
			d.v.addAt(path, n.Line, "expected a number, got %s", describeNode(n))
			return
		}
		v.SetFloat(f)
	default:
		// Only reachable if a field of an unsupported type is added.
		d.v.addAt(path, n.Line, "cannot decode into a Go %s", v.Type())
	}
}

func (d *nodeDecoder) sequence(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.v.addAt(path, n.Line, "expected a list, got %s", describeNode(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.value(pathf("%s[%d]", path, i), c, s.Index(i))
		if d.over {
			return
		}
	}
	v.Set(s)
}

func (d *nodeDecoder) mapping(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.v.addAt(path, n.Line, "expected a mapping (key: value), got %s", describeNode(n))
		return
	}
	d.fields(path, n, v, fieldsOf(v.Type()), map[string]int{}, false)
}

// fields decodes the pairs of mapping n into struct v. seen holds the
// fields already set, by name, with their line: a merge (<<) never
// overrides them. Explicit pairs come first, then merges in order, as YAML
// merge keys specify.
func (d *nodeDecoder) fields(path string, n *yaml.Node, v reflect.Value, info *structInfo, seen map[string]int, merged bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.visit() {
			return
		}
		if k.Kind != yaml.ScalarNode {
			d.v.addAt(path, k.Line, "field names must be plain words, got %s", describeNode(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		name, p := k.Value, joinPath(path, k.Value)
		if line, dup := seen[name]; dup {
			if !merged {
				d.v.addAt(p, k.Line, "duplicate field (first given on line %d)", line)
			}
			continue
		}
		seen[name] = k.Line
		idx, ok := info.index[name]
		if !ok {
			if s := closestName(name, info.names); s != "" {
				d.v.addAt(p, k.Line, "unknown field (did you mean %q?)", s)
			} else {
				d.v.addAt(p, k.Line, "unknown field (valid: %s)", strings.Join(info.names, ", "))
			}
			continue
		}
		d.value(p, val, v.Field(idx))
		if d.over {
			return
		}
	}
	for _, m := range merges {
		d.merge(path, m, v, info, seen)
		if d.over {
			return
		}
	}
}

// merge applies a merge key's value: a mapping, or a list of mappings.
func (d *nodeDecoder) merge(path string, m *yaml.Node, v reflect.Value, info *structInfo, seen map[string]int) {
	m = d.resolve(m)
	if m == nil {
		return
	}
	var sources []*yaml.Node
	switch m.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{m}
	case yaml.SequenceNode:
		for _, c := range m.Content {
			if c = d.resolve(c); c == nil {
				return
			}
			sources = append(sources, c)
		}
	}
	for _, src := range sources {
		if src.Kind != yaml.MappingNode {
			d.v.addAt(joinPath(path, "<<"), m.Line, "a merge needs a mapping or a list of mappings, got %s", describeNode(src))
			continue
		}
		if d.merging[src] {
			d.v.addAt(joinPath(path, "<<"), m.Line, "the merged mapping contains itself")
			continue
		}
		d.merging[src] = true
		d.fields(path, src, v, info, seen, true)
		delete(d.merging, src)
		if d.over {
			return
		}
	}
	if len(sources) == 0 {
		d.v.addAt(joinPath(path, "<<"), m.Line, "a merge needs a mapping or a list of mappings, got %s", describeNode(m))
	}
}

// describeNode renders a node for an error message: its value, shortened,
// or what kind of node it is.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	s := n.Value
	if len(s) > 40 {
		s = strings.ToValidUTF8(s[:40], "") + "..."
	}
	return fmt.Sprintf("%q", s)
}

// structInfo maps yaml field names of a struct type to field indexes.
type structInfo struct {
	index map[string]int
	names []string // in field order, for messages and suggestions
}

var structInfos sync.Map // reflect.Type -> *structInfo

func fieldsOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{index: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		si.index[name] = i
		si.names = append(si.names, name)
	}
	actual, _ := structInfos.LoadOrStore(t, si)
	return actual.(*structInfo)
}

// siteFileHeader starts every exported site file.
const siteFileHeader = "# sitegate site file\n"

// EncodeSiteYAML writes s as a site file: secrets redacted (see Redacted),
// fields in struct order, two-space indentation, lists of plain values and
// small records (SIMs, buses, points, devices without points) on one line
// each. DecodeSiteYAML reads it back to a site that encodes identically.
//
// The YAML emitter keeps every event of a document until the document ends
// (hundreds of bytes each): a large site emitted whole cost 726 MiB for
// 300 devices of 100 points. So the devices are emitted one at a time and
// put in the place of a placeholder in the rest of the site: memory is
// that of the largest device, and the output is the same.
func EncodeSiteYAML(s *Site) ([]byte, error) {
	if s == nil {
		return nil, errors.New("encode site: nil site")
	}
	r := s.Redacted()
	devices := r.Modbus.Devices
	if len(devices) < 2 {
		return encodeWhole(r)
	}
	var nonce [12]byte
	_, _ = rand.Read(nonce[:])
	marker := "sitegate-devices-" + hex.EncodeToString(nonce[:])
	r.Modbus.Devices = []Device{{Name: marker}}
	head, err := encodeWhole(r)
	if err != nil {
		return nil, err
	}
	at := bytes.Index(head, []byte(marker))
	if at < 0 {
		return nil, errors.New("encode site: the device placeholder went missing")
	}
	start := bytes.LastIndexByte(head[:at], '\n') + 1
	end := at + bytes.IndexByte(head[at:], '\n') + 1
	indent := head[start : start+bytes.IndexByte(head[start:], '-')]
	out := bytes.NewBuffer(make([]byte, 0, len(head)+len(devices)*256))
	out.Write(head[:start])
	for _, d := range devices {
		chunk, err := encodeDevice(d)
		if err != nil {
			return nil, err
		}
		for _, line := range bytes.SplitAfter(chunk, []byte("\n")) {
			if len(line) > 0 {
				out.Write(indent)
				out.Write(line)
			}
		}
	}
	out.Write(head[end:])
	return out.Bytes(), nil
}

// encodeWhole emits a (redacted) site as one document.
func encodeWhole(r *Site) ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(r); err != nil {
		return nil, fmt.Errorf("encode site: %w", err)
	}
	styleSite(&n)
	return emitQuoted(&n, []byte(siteFileHeader))
}

// encodeDevice emits one device as a one-item list at column 0, styled as
// in a whole site.
func encodeDevice(d Device) ([]byte, error) {
	var n yaml.Node
	if err := n.Encode([]Device{d}); err != nil {
		return nil, fmt.Errorf("encode site: %w", err)
	}
	flowScalarLists(&n)
	for _, dev := range seqItems(&n) {
		styleDevice(dev)
	}
	return emitQuoted(&n, nil)
}

// emitQuoted emits n with the README's quoting. The emitter quotes strings
// itself where their style would be wrong in context, with single quotes:
// emit once, read back what it quoted, and make those double quotes, as the
// README's contract writes them.
func emitQuoted(n *yaml.Node, header []byte) ([]byte, error) {
	first, err := emitYAML(n, nil)
	if err != nil {
		return nil, err
	}
	var again yaml.Node
	if err := yaml.Unmarshal(first, &again); err != nil {
		return nil, fmt.Errorf("encode site: re-read: %w", err)
	}
	doubleQuote(&again)
	return emitYAML(&again, header)
}

func emitYAML(n *yaml.Node, header []byte) ([]byte, error) {
	buf := bytes.NewBuffer(header)
	enc := yaml.NewEncoder(buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("encode site: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode site: %w", err)
	}
	return buf.Bytes(), nil
}

// doubleQuote turns single-quoted strings into double-quoted ones, and
// quotes SecretPlaceholder, which reads better quoted.
func doubleQuote(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && (n.Style&yaml.SingleQuotedStyle != 0 || n.Value == SecretPlaceholder) {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		doubleQuote(c)
	}
}

// styleSite chooses flow style where it reads better, as in the example
// of the README's site file contract.
func styleSite(root *yaml.Node) {
	flowScalarLists(root)
	flow := func(n *yaml.Node) {
		if n != nil {
			n.Style = yaml.FlowStyle
		}
	}
	wan := mapValue(root, "wan")
	flow(mapValue(wan, "probe"))
	flow(mapValue(wan, "ethernet"))
	for _, sim := range seqItems(mapValue(mapValue(root, "cellular"), "sims")) {
		flow(sim)
	}
	modbus := mapValue(root, "modbus")
	for _, b := range seqItems(mapValue(modbus, "buses")) {
		flow(b)
	}
	for _, dev := range seqItems(mapValue(modbus, "devices")) {
		styleDevice(dev)
	}
	for _, prof := range seqItems(mapValue(root, "profiles")) {
		for _, p := range seqItems(mapValue(prof, "points")) {
			flow(p)
		}
	}
	styleBACnet(root)
	styleSecurity(root)
}

// styleDevice puts a device without points on one line, and each point of
// a device on its own.
func styleDevice(dev *yaml.Node) {
	points := mapValue(dev, "points")
	if points == nil {
		dev.Style = yaml.FlowStyle
	}
	for _, p := range seqItems(points) {
		p.Style = yaml.FlowStyle
	}
}

// flowScalarLists puts lists of plain values on one line.
func flowScalarLists(n *yaml.Node) {
	if n.Kind == yaml.SequenceNode {
		scalars := true
		for _, c := range n.Content {
			scalars = scalars && c.Kind == yaml.ScalarNode
		}
		if scalars {
			n.Style = yaml.FlowStyle
		}
	}
	for _, c := range n.Content {
		flowScalarLists(c)
	}
}

// mapValue returns the value of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func seqItems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}
