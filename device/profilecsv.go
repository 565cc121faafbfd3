package device

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds of a register map in CSV.
const (
	// MaxProfileCSVBytes bounds a CSV register map: the largest published
	// maps (a few hundred values) take well under 100 KiB.
	MaxProfileCSVBytes = 256 << 10
	// MaxProfileCSVColumns bounds the columns of one row.
	MaxProfileCSVColumns = 32
	// MaxProfileCSVProblems bounds the problems reported for one file; a
	// last problem says how many more there were.
	MaxProfileCSVProblems = 200
	// maxEchoed bounds a value quoted back in a problem.
	maxEchoed = 40
)

// ProfileCSVColumns are the columns of a register map in CSV, in the order
// EncodeProfileCSV writes them. A file may have them in any order; name,
// address and type are required, the others may be left out.
var ProfileCSVColumns = []string{"name", "table", "address", "type", "order", "scale", "offset", "unit", "writable", "description", "precision"}

// requiredCSVColumns must be in the header.
var requiredCSVColumns = []string{"name", "address", "type"}

// ParseProfileCSV reads a register map from CSV as a profile called name:
// a header row naming the columns (ProfileCSVColumns, any order, any
// case), then one point per row. Blank lines and lines starting with '#'
// are skipped. The separator is ',' or, as spreadsheets in many locales
// write it, ';' or a tab (told from the header); with ';' or a tab, a
// decimal comma is read as a decimal point. A UTF-8 byte-order mark is
// skipped. Addresses are read by ParseAddress.
//
// Every problem of the file is returned at once, in one *ValidationError
// whose Problems carry the line and, as Path, the column ("line 4: type:
// unknown data type \"float33\""); nothing is returned unless all of it is
// valid.
func ParseProfileCSV(name string, data []byte) (Profile, error) {
	var v problems
	fail := func(line int, format string, a ...any) (Profile, error) {
		v.addAt("", line, format, a...)
		return Profile{}, v.err()
	}
	switch {
	case len(data) > MaxProfileCSVBytes:
		return fail(bytes.Count(data[:MaxProfileCSVBytes], []byte("\n"))+1, "the register map is larger than %d KiB: split it, or leave out the values nobody reads", MaxProfileCSVBytes>>10)
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return fail(1, "the file is UTF-16 text (a spreadsheet's \"Unicode text\"): save it as \"CSV UTF-8\"")
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if i := firstInvalidUTF8(data); i >= 0 {
		return fail(bytes.Count(data[:i], []byte("\n"))+1, "the file is not UTF-8 text: save it as \"CSV UTF-8\"")
	}
	sep := csvSeparator(data)
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = sep
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.ReuseRecord = true

	var header map[string]int // column → index
	var columns []string
	var p Profile
	p.Name = name
	firstLine := map[string]int{}
	hidden := 0 // rows with problems past MaxProfileCSVProblems
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// The reader cannot go on after a broken quote: report what
			// was found so far and this.
			v.addAt("", pe.Line, "column %d: %v (a field with %q or a quote must be quoted, and quotes in it doubled)", pe.Column, pe.Err, string(sep))
			break
		}
		if err != nil {
			v.addAt("", 0, "%v", err)
			break
		}
		line, _ := r.FieldPos(0)
		if len(rec) > MaxProfileCSVColumns {
			v.addAt("", line, "%d columns; a register map has at most %d (is %q the separator?)", len(rec), MaxProfileCSVColumns, string(sep))
			if header == nil {
				break
			}
			continue
		}
		if blankRecord(rec) {
			continue
		}
		if header == nil {
			header, columns = parseCSVHeader(&v, line, rec, sep)
			if header == nil {
				break
			}
			continue
		}
		if len(v.list) >= MaxProfileCSVProblems {
			// Past the cap only count what is wrong, in a scratch list.
			var scratch problems
			if _, ok := parseCSVPoint(&scratch, line, rec, header, sep != ','); !ok {
				hidden++
			}
			continue
		}
		if len(p.Points) >= MaxProfilePoints {
			v.addAt("", line, "more than %d points: a profile holds at most %d", MaxProfilePoints, MaxProfilePoints)
			break
		}
		if len(rec) > len(columns) && !blankRecord(rec[len(columns):]) {
			v.addAt("", line, "%d columns, but the header names %d", len(rec), len(columns))
			continue
		}
		if i := unnamedValue(rec, columns); i >= 0 {
			v.addAt("", line, "column %d has a value but no name in the header", i+1)
			continue
		}
		pt, ok := parseCSVPoint(&v, line, rec, header, sep != ',')
		if prev, dup := firstLine[pt.Name]; dup && pt.Name != "" {
			v.addAt("name", line, "point %q is already defined on line %d", pt.Name, prev)
			continue
		} else if pt.Name != "" {
			firstLine[pt.Name] = line
		}
		if ok {
			p.Points = append(p.Points, pt)
		}
	}
	if header == nil && len(v.list) == 0 {
		v.addAt("", 1, "no header row: the first line names the columns (%s)", strings.Join(ProfileCSVColumns[:10], ", "))
	}
	if len(v.list) == 0 && len(p.Points) == 0 {
		v.addAt("", 2, "no points: every row after the header is one point")
	}
	if len(v.list) == 0 {
		var pv problems
		p.validate(&pv, "")
		for _, q := range pv.list {
			// Only the name can be wrong here: every point was checked.
			v.add(q.Path, "%s", q.Message)
		}
	}
	if more := len(v.list) - MaxProfileCSVProblems + hidden; len(v.list) >= MaxProfileCSVProblems && more > 0 {
		// Rows, not problems, past the cap: a row may have several.
		v.list = append(v.list[:MaxProfileCSVProblems], Problem{Message: fmt.Sprintf("… and %d more rows with problems not shown: fix these first", more)})
	}
	if err := v.err(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// csvSeparator tells the separator from the header line: ';' or a tab when
// it has one of them and no comma.
func csvSeparator(data []byte) rune {
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		counts := map[rune]int{',': bytes.Count(line, []byte(",")), ';': bytes.Count(line, []byte(";")), '\t': bytes.Count(line, []byte("\t"))}
		best := ','
		for _, c := range []rune{';', '\t'} {
			if counts[c] > counts[best] {
				best = c
			}
		}
		return best
	}
	return ','
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// unnamedValue returns the index of a value in a column the header left
// unnamed, or -1.
func unnamedValue(rec, columns []string) int {
	for i, c := range columns {
		if c == "" && i < len(rec) && strings.TrimSpace(rec[i]) != "" {
			return i
		}
	}
	return -1
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// parseCSVHeader reads the header row: known column names, none twice, the
// required ones present. It returns nil after a problem.
func parseCSVHeader(v *problems, line int, rec []string, sep rune) (map[string]int, []string) {
	header := map[string]int{}
	columns := make([]string, len(rec))
	bad := false
	for i, f := range rec {
		col := strings.ToLower(strings.TrimSpace(f))
		columns[i] = col
		switch j, dup := header[col]; {
		case col == "":
			// Spreadsheets write empty columns after the last one; a value
			// under one is reported with its row.
		case !slices.Contains(ProfileCSVColumns, col):
			v.addAt("", line, "unknown column %q (the columns are %s)%s", echo(f), strings.Join(ProfileCSVColumns, ", "), didYouMean(col, ProfileCSVColumns))
			bad = true
		case dup:
			v.addAt("", line, "column %q is named twice (columns %d and %d)", col, j+1, i+1)
			bad = true
		default:
			header[col] = i
		}
	}
	for _, req := range requiredCSVColumns {
		if _, ok := header[req]; !ok && !bad {
			v.addAt("", line, "the header has no %q column (it needs %s; found %s, separated by %q)", req, strings.Join(requiredCSVColumns, ", "), strings.Join(columns, ", "), string(sep))
			bad = true
		}
	}
	if bad {
		return nil, nil
	}
	return header, columns
}

// parseCSVPoint reads one row; problems are added with the row's line and
// the column as path. It returns the point as far as it was read, and
// whether it is valid.
func parseCSVPoint(v *problems, line int, rec []string, header map[string]int, decimalComma bool) (Point, bool) {
	get := func(col string) string {
		if i, ok := header[col]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	before := len(v.list)
	bad := func(col, format string, a ...any) { v.addAt(col, line, format, a...) }
	number := func(s string) (float64, error) {
		if decimalComma {
			s = strings.Replace(s, ",", ".", 1)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q is not a number", echo(s))
		}
		return f, nil
	}
	var p Point
	p.Name = get("name")
	var tableErr bool
	if s := get("table"); s != "" {
		t, err := parseTableAlias(s)
		if err != nil {
			bad("table", "%v", err)
			tableErr = true
		}
		p.Table = t
	}
	if !tableErr {
		t, addr, err := ParseAddress(get("address"), p.Table)
		if err != nil {
			bad("address", "%v", err)
		} else {
			p.Table, p.Address = t, addr
		}
	}
	if s := get("type"); s == "" {
		bad("type", "is required (%s)", dataTypes.valid())
	} else if t, err := parseTypeAlias(s); err != nil {
		bad("type", "%v", err)
	} else {
		p.Type = t
	}
	if s := get("order"); s != "" {
		o, err := ParseByteOrder(s)
		if err != nil {
			bad("order", "unknown byte order %q (valid: %s)", echo(s), byteOrders.valid())
		}
		p.Order = o
	}
	if s := get("scale"); s != "" {
		f, err := number(s)
		if err != nil {
			bad("scale", "%v", err)
		} else {
			p.SetScale(f)
		}
	}
	if s := get("offset"); s != "" {
		f, err := number(s)
		if err != nil {
			bad("offset", "%v", err)
		}
		p.Offset = f
	}
	p.Unit = get("unit")
	p.Description = get("description")
	if s := get("writable"); s != "" {
		w, err := parseYes(s)
		if err != nil {
			bad("writable", "%v", err)
		}
		p.Writable = w
	}
	if s := get("precision"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			bad("precision", "%q is not a whole number of significant digits (1..17)", echo(s))
		}
		p.Precision = n
	}
	if len(v.list) > before {
		return p, false
	}
	// The site file's own rules, with the column as the path.
	var pv problems
	checkName(&pv, "name", p.Name)
	p.validate(&pv, "")
	for _, q := range pv.list {
		v.addAt(q.Path, line, "%s", q.Message)
	}
	return p, len(v.list) == before
}

// tablePrefix is each table's digit in the 40001 notation.
var tablePrefix = map[RegisterTable]byte{TableCoil: '0', TableDiscrete: '1', TableInput: '3', TableHolding: '4'}

// ParseAddress reads a Modbus address as register maps write it, for
// table t (0 when not given):
//
//   - a 0-based protocol address in decimal (2, 1000) or hex (0x0010);
//   - the 1-based notation of 5 digits (40001 = holding 0, 30001 = input 0,
//     10001 = discrete 0, 00001 = coil 0; up to 9999) or 6 digits (400001
//     to 465536), whose first digit is the table, so t may be 0. A 5- or
//     6-digit number is read this way when t is 0 or its first digit is
//     t's; a 0-based address of 10000 or more in such a table is written
//     in hex.
//
// It returns the table (t, or the notation's) and the 0-based address.
func ParseAddress(s string, t RegisterTable) (RegisterTable, int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return t, 0, errors.New("is required (0-based like 2 or 0x0002, or 1-based like 40003)")
	}
	if hex, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		n, err := strconv.ParseUint(hex, 16, 64)
		switch {
		case err != nil && errors.Is(err, strconv.ErrRange), err == nil && n > 65535:
			return t, 0, fmt.Errorf("%s is past 0xFFFF (65535), the last Modbus address", echo(s))
		case err != nil:
			return t, 0, fmt.Errorf("%q is not a hex address", echo(s))
		case t == 0:
			return t, 0, fmt.Errorf("%s is a 0-based address: give the table too (coil, discrete, input, holding)", s)
		}
		return t, int(n), nil
	}
	if strings.TrimLeft(s, "0123456789") != "" {
		return t, 0, fmt.Errorf("%q is not an address: give a number like 2, 0x0002 or 40003", echo(s))
	}
	if len(s) == 5 || len(s) == 6 {
		if nt, ok := prefixTable(s[0]); ok && (t == 0 || nt == t) {
			ref, _ := strconv.Atoi(s[1:])
			last := 9999
			if len(s) == 6 {
				last = 65536
			}
			switch {
			case ref < 1:
				return t, 0, fmt.Errorf("%s: the 1-based notation starts at %c%0*d (%s address 0)", s, s[0], len(s)-1, 1, nt)
			case ref > last:
				return t, 0, fmt.Errorf("%s is past %c%0*d, the last %s register (address 65535)", s, s[0], len(s)-1, last, nt)
			}
			return nt, ref - 1, nil
		}
		if t == 0 {
			return t, 0, fmt.Errorf("%s: a 1-based address starts with the table's digit: 0 coil, 1 discrete, 3 input, 4 holding", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	switch {
	case err != nil || n > 65535:
		return t, 0, fmt.Errorf("%s is past 65535, the last Modbus address", echo(s))
	case t == 0:
		return t, 0, fmt.Errorf("table is empty: give the table (coil, discrete, input, holding), or write the address as 40001 (holding), 30001 (input), 10001 (discrete) or 00001 (coil)")
	}
	return t, int(n), nil
}

// Notation returns the conventional 1-based reference of a Modbus address:
// 0xxxx coils, 1xxxx discrete inputs, 3xxxx input and 4xxxx holding
// registers (six digits from address 9999), e.g. holding address 2 is 40003.
// ParseAddress reads it back.
func Notation(t RegisterTable, addr int) string {
	prefix := tablePrefix[t]
	if prefix == 0 {
		return "-"
	}
	if addr < 9999 {
		return fmt.Sprintf("%c%04d", prefix, addr+1)
	}
	return fmt.Sprintf("%c%05d", prefix, addr+1)
}

func prefixTable(c byte) (RegisterTable, bool) {
	for t, p := range tablePrefix {
		if p == c {
			return t, true
		}
	}
	return 0, false
}

// parseTableAlias reads a table as register maps name it: coil, discrete,
// input, holding, their plurals, "input register", "discrete input", or
// the 0x/1x/3x/4x shorthand.
func parseTableAlias(s string) (RegisterTable, error) {
	k := strings.ToLower(strings.Join(strings.Fields(s), " "))
	aliases := map[string]RegisterTable{
		"coil": TableCoil, "coils": TableCoil, "0x": TableCoil,
		"discrete": TableDiscrete, "discrete input": TableDiscrete, "discrete inputs": TableDiscrete, "1x": TableDiscrete,
		"input": TableInput, "input register": TableInput, "input registers": TableInput, "3x": TableInput,
		"holding": TableHolding, "holding register": TableHolding, "holding registers": TableHolding, "4x": TableHolding,
	}
	if t, ok := aliases[k]; ok {
		return t, nil
	}
	return 0, fmt.Errorf("unknown register table %q (valid: %s)", echo(s), registerTables.valid())
}

// parseTypeAlias reads a data type by its name or a common synonym (float
// for float32, double for float64, word and dword for uint16 and uint32).
func parseTypeAlias(s string) (DataType, error) {
	aliases := map[string]DataType{"float": TypeFloat32, "single": TypeFloat32, "double": TypeFloat64, "word": TypeUint16, "dword": TypeUint32}
	if t, ok := aliases[strings.ToLower(s)]; ok {
		return t, nil
	}
	t, err := ParseDataType(s)
	if err != nil {
		return 0, fmt.Errorf("unknown data type %q (valid: %s)", echo(s), dataTypes.valid())
	}
	return t, nil
}

func parseYes(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "y", "true", "1", "rw", "r/w", "w":
		return true, nil
	case "no", "n", "false", "0", "r", "ro":
		return false, nil
	}
	return false, fmt.Errorf("%q is not yes or no", echo(s))
}

// echo cuts client text quoted back in a problem.
func echo(s string) string {
	if len(s) <= maxEchoed {
		return s
	}
	cut := maxEchoed
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// EncodeProfileCSV writes p as a CSV register map that ParseProfileCSV
// reads back to the same points: the columns of ProfileCSVColumns
// (precision only when a point has one), 0-based decimal addresses.
func EncodeProfileCSV(p Profile) ([]byte, error) {
	cols := ProfileCSVColumns[:10]
	if slices.ContainsFunc(p.Points, func(pt Point) bool { return pt.Precision != 0 }) {
		cols = ProfileCSVColumns
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(cols); err != nil {
		return nil, err
	}
	for _, pt := range p.Points {
		scale := ""
		if pt.ScaleFactor != nil {
			scale = strconv.FormatFloat(*pt.ScaleFactor, 'g', -1, 64)
		}
		offset := ""
		if pt.Offset != 0 {
			offset = strconv.FormatFloat(pt.Offset, 'g', -1, 64)
		}
		row := []string{pt.Name, pt.Table.String(), strconv.Itoa(pt.Address), pt.Type.String(), pt.Order.String(), scale, offset, pt.Unit, yesNo(pt.Writable), pt.Description}
		if len(cols) > 10 {
			prec := ""
			if pt.Precision != 0 {
				prec = strconv.Itoa(pt.Precision)
			}
			row = append(row, prec)
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
