package device

// Counting the nodes of a YAML file before parsing it.
//
// yaml.v3 builds the whole node tree of a document before anything can
// look at it, at about 200 bytes per node, and a node can take as little
// as two bytes of input ("{a,a,a,..."): a 4 MiB file can make it build
// two million nodes. estimateNodes reads the bytes once, building nothing,
// and returns an upper bound of the nodes yaml.v3 would build, so that a
// file over the budget is refused before it costs memory.
//
// It follows the tokens of go-yaml's scanner (scannerc.go) where that is
// cheap: flow collections, quoted and plain scalars (with their line
// continuations, which need the block indentation), comments, anchors and
// tags. Each token that can start nodes is charged what it can start: a
// block key is charged to the line break before it, a block value to its
// ':', a flow entry to the '[', '{' or ',' before it, an implicit null to
// the ',' or '}' that ends its entry, a single-pair mapping in a flow
// sequence to its ':'. Where it would have to follow more of the scanner
// (block scalars, document markers), it switches to charging every
// character that can start a node in any context its worst case, which is
// a safe bound whatever came before. FuzzSiteNodeEstimate checks the bound
// against yaml.v3's own count.

type nodeScan struct {
	d         []byte
	i         int
	col       int // column of i in characters, as the YAML scanner counts
	line      int
	n         int
	limit     int
	flow      []byte // open flow collections: '[' or '{'
	colon     []bool // per open collection: its current entry has a ':'
	indents   []int  // block indentation levels (the scanner's indent stack)
	keyLine   int    // line of the possible simple key (-1: none)
	keyCol    int
	keyOK     bool // a simple key may start here
	startLine int  // line of the token being read
	loose     bool
}

// estimateNodes returns an upper bound of the nodes yaml.v3 builds for
// data, or a number over limit as soon as the bound passes it.
func estimateNodes(data []byte, limit int) int {
	s := &nodeScan{d: data, limit: limit, keyLine: -1, keyOK: true, n: 3} // the document, its root and the first line's key
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		s.i = 3
	}
	for s.i < len(s.d) && s.n <= s.limit {
		if s.loose {
			s.countLoosely()
			break
		}
		s.token()
	}
	return s.n
}

// breakLen returns the length of the line break at i, or 0: \n, \r, \r\n,
// and the Unicode breaks NEL, LS and PS, as the scanner has them.
func (s *nodeScan) breakLen(i int) int {
	d := s.d
	switch {
	case i >= len(d):
		return 0
	case d[i] == '\r' && i+1 < len(d) && d[i+1] == '\n':
		return 2
	case d[i] == '\r' || d[i] == '\n':
		return 1
	case d[i] == 0xC2 && i+1 < len(d) && d[i+1] == 0x85:
		return 2
	case d[i] == 0xE2 && i+2 < len(d) && d[i+1] == 0x80 && (d[i+2] == 0xA8 || d[i+2] == 0xA9):
		return 3
	}
	return 0
}

func (s *nodeScan) blank(i int) bool { return i < len(s.d) && (s.d[i] == ' ' || s.d[i] == '\t') }

// blankz is the scanner's is_blankz: a blank, a break or the end.
func (s *nodeScan) blankz(i int) bool {
	return i >= len(s.d) || s.d[i] == 0 || s.blank(i) || s.breakLen(i) > 0
}

// advance moves past one character (a whole UTF-8 sequence) on the line.
func (s *nodeScan) advance() {
	s.i++
	for s.i < len(s.d) && s.d[s.i]&0xC0 == 0x80 {
		s.i++
	}
	s.col++
}

// newline moves past the line break at i; at flow level 0 it is charged
// for the block key that may start the next line.
func (s *nodeScan) newline(charge bool) {
	s.i += s.breakLen(s.i)
	s.col = 0
	s.line++
	if charge {
		s.n++
	}
}

func (s *nodeScan) inFlow() bool { return len(s.flow) > 0 }

func (s *nodeScan) indent() int {
	if len(s.indents) == 0 {
		return -1
	}
	return s.indents[len(s.indents)-1]
}

// skipToToken skips blanks, comments and line breaks, as the scanner's
// scan_to_next_token does.
func (s *nodeScan) skipToToken() {
	for s.i < len(s.d) {
		switch {
		case s.blank(s.i):
			s.advance()
		case s.d[s.i] == '#':
			for s.i < len(s.d) && s.breakLen(s.i) == 0 {
				s.i++
			}
		case s.breakLen(s.i) > 0:
			s.newline(!s.inFlow())
			if !s.inFlow() {
				s.keyOK = true
			}
		default:
			return
		}
	}
}

// saveKey notes that the token starting here may be a simple key.
func (s *nodeScan) saveKey() {
	if s.keyOK {
		s.keyLine, s.keyCol = s.line, s.col
	}
}

// rollIndent opens a block collection at column col.
func (s *nodeScan) rollIndent(col int) {
	if !s.inFlow() && col > s.indent() {
		s.indents = append(s.indents, col)
	}
}

func (s *nodeScan) token() {
	s.skipToToken()
	if s.i >= len(s.d) {
		return
	}
	if !s.inFlow() {
		for col := s.col; len(s.indents) > 0 && s.indent() > col; {
			s.indents = s.indents[:len(s.indents)-1]
		}
	}
	s.startLine = s.line
	d, c := s.d, s.d[s.i]
	if c == 0 {
		// The parser's reader refuses control characters: nothing after
		// this is parsed.
		s.i = len(d)
		return
	}
	if s.col == 0 && s.i+3 <= len(d) && (string(d[s.i:s.i+3]) == "---" || string(d[s.i:s.i+3]) == "...") && s.blankz(s.i+3) {
		s.loose = true // another document: counted loosely
		return
	}
	if s.col == 0 && c == '%' {
		for s.i < len(d) && s.breakLen(s.i) == 0 { // a directive: no nodes
			s.i++
		}
		return
	}
	switch {
	case c == '[' || c == '{':
		s.saveKey()
		s.flow = append(s.flow, c)
		s.colon = append(s.colon, false)
		s.n += 2 // the collection and its first entry
		s.keyOK = true
		s.advance()
	case c == ']' || c == '}':
		if k := len(s.flow); k > 0 {
			if s.flow[k-1] == '{' && !s.colon[k-1] {
				s.n++ // the last key's implicit null
			}
			s.flow, s.colon = s.flow[:k-1], s.colon[:k-1]
		}
		s.keyOK = false
		s.advance()
	case c == ',':
		k := len(s.flow)
		switch {
		case k == 0:
			s.n += 2
		case s.flow[k-1] == '{':
			s.n++ // the next key
			if !s.colon[k-1] {
				s.n++ // this key's implicit null
			}
			s.colon[k-1] = false
		default:
			s.n++ // the next entry
		}
		s.keyOK = true
		s.advance()
	case c == '-' && s.blankz(s.i+1):
		s.rollIndent(s.col)
		s.n++
		s.keyOK = true
		s.advance()
	case c == '?' && (s.inFlow() || s.blankz(s.i+1)):
		s.rollIndent(s.col)
		s.n += 2 // the key and its value
		s.keyOK = !s.inFlow()
		s.advance()
	case c == ':' && (s.inFlow() || s.blankz(s.i+1)):
		k := len(s.flow)
		switch {
		case k == 0:
			col := s.col
			if s.keyLine == s.line {
				col = s.keyCol
			}
			s.rollIndent(col)
			s.n++ // the value
		case s.flow[k-1] == '{':
			s.colon[k-1] = true
			s.n++
		default:
			s.n += 2 // a single-pair mapping and its value
		}
		s.keyLine = -1
		s.keyOK = !s.inFlow()
		s.advance()
	case c == '*' || c == '&':
		// An alias or an anchor: a name of [0-9A-Za-z_-].
		s.saveKey()
		s.keyOK = false
		s.advance()
		for s.i < len(d) && isAnchorChar(d[s.i]) {
			s.advance()
		}
	case c == '!':
		// A tag runs to a blank (the scanner refuses anything else after it).
		s.saveKey()
		s.keyOK = false
		s.advance()
		for !s.blankz(s.i) {
			s.advance()
		}
	case (c == '|' || c == '>') && !s.inFlow():
		s.loose = true // a block scalar: counted loosely from here
	case c == '\'' || c == '"':
		s.saveKey()
		s.keyOK = false
		s.quoted(c)
	default:
		s.saveKey()
		s.keyOK = false
		s.plain()
	}
}

func isAnchorChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '-'
}

func isFlowIndicator(c byte) bool {
	return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'
}

// quoted skips a single- or double-quoted scalar, which may span lines.
func (s *nodeScan) quoted(q byte) {
	s.advance()
	for s.i < len(s.d) {
		switch c := s.d[s.i]; {
		case s.breakLen(s.i) > 0:
			s.newline(false)
		case q == '\'' && c == '\'' && s.i+1 < len(s.d) && s.d[s.i+1] == '\'':
			s.advance()
			s.advance()
		case c == q:
			s.advance()
			return
		case q == '"' && c == '\\' && s.i+1 < len(s.d):
			s.advance()
			if s.breakLen(s.i) > 0 {
				s.newline(false)
			} else {
				s.advance()
			}
		default:
			s.advance()
		}
	}
}

// plain skips a plain scalar as the scanner's scan_plain_scalar does,
// following it onto the next lines that are more indented than the
// current block collection.
func (s *nodeScan) plain() {
	indent := s.indent() + 1
	for s.i < len(s.d) {
		if s.col == 0 && s.i+3 <= len(s.d) && (string(s.d[s.i:s.i+3]) == "---" || string(s.d[s.i:s.i+3]) == "...") && s.blankz(s.i+3) {
			return
		}
		if s.d[s.i] == '#' {
			return
		}
		for !s.blankz(s.i) {
			c := s.d[s.i]
			if c == ':' && s.blankz(s.i+1) || s.inFlow() && (isFlowIndicator(c) || c == '?') {
				return
			}
			s.advance()
		}
		if !s.blank(s.i) && s.breakLen(s.i) == 0 {
			return
		}
		broke := false
		for s.blank(s.i) || s.breakLen(s.i) > 0 {
			if s.breakLen(s.i) > 0 {
				s.newline(!s.inFlow())
				broke = true
			} else {
				s.advance()
			}
		}
		if !s.inFlow() && broke && s.col < indent {
			s.keyOK = true
			return
		}
	}
}

// countLoosely charges the rest of the input without following tokens:
// every character that can start nodes, in any context, its worst case.
func (s *nodeScan) countLoosely() {
	for ; s.i < len(s.d) && s.n <= s.limit; s.i++ {
		switch s.d[s.i] {
		case '\n', '-', ']', '}':
			s.n++
		case '\r':
			if s.i+1 >= len(s.d) || s.d[s.i+1] != '\n' {
				s.n++
			}
		case ':', ',', '?', '[', '{':
			s.n += 2
		case 0x85, 0xA8, 0xA9: // the last byte of NEL, LS and PS
			s.n++
		}
	}
}
