package device

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const sampleMap = `name,table,address,type,order,scale,offset,unit,writable,description
voltage_l1,input,0,float32,,,,V,,Phase 1 voltage
current_l1,,30007,float32,ABCD,,,A,no,
energy,input,0x0048,float32,,,,kWh,,"Import, total"
setpoint,holding,400011,uint16,,0.1,-5,degC,yes,
running,,00001,bool,,,,,rw,
alarm,discrete,10003,bool,,,,,,
`

func TestParseProfileCSV(t *testing.T) {
	p, err := ParseProfileCSV("my-meter", []byte(sampleMap))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name  string
		table RegisterTable
		addr  int
		typ   DataType
	}
	var got []row
	for _, pt := range p.Points {
		got = append(got, row{pt.Name, pt.Table, pt.Address, pt.Type})
	}
	want := []row{
		{"voltage_l1", TableInput, 0, TypeFloat32},
		{"current_l1", TableInput, 6, TypeFloat32},
		{"energy", TableInput, 0x48, TypeFloat32},
		{"setpoint", TableHolding, 10, TypeUint16},
		{"running", TableCoil, 0, TypeBool},
		{"alarm", TableDiscrete, 2, TypeBool},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("points\n got %v\nwant %v", got, want)
	}
	sp := p.Points[3]
	if sp.Scale() != 0.1 || sp.Offset != -5 || !sp.Writable || sp.Unit != "degC" {
		t.Errorf("setpoint: %+v", sp)
	}
	if p.Points[2].Description != "Import, total" || !p.Points[4].Writable || p.Points[1].Writable {
		t.Errorf("description or writable: %+v", p.Points)
	}
}

// Columns in any order and case, a BOM, ';' with decimal commas, CRLF,
// comments and blank lines are all read.
func TestParseProfileCSVDialects(t *testing.T) {
	for name, text := range map[string]string{
		"reordered": "Type,ADDRESS,Name,Scale\r\nuint16,40001,a,0.5\r\n",
		"bom":       "\xEF\xBB\xBFname,address,type,scale\na,40001,uint16,0.5\n",
		"semicolon": "name;address;type;scale\na;40001;uint16;0,5\n",
		"tab":       "name\taddress\ttype\tscale\na\t40001\tuint16\t0,5\n",
		"comments":  "# exported from the vendor's sheet\n\nname,address,type,scale\n\n# a note\na,40001,uint16,0.5\n,,,\n",
		"trailing":  "name,address,type,scale,\na,40001,uint16,0.5,,\n",
		"aliases":   "name,table,address,type,scale\na,Holding Registers,0,word,0.5\n",
	} {
		t.Run(name, func(t *testing.T) {
			p, err := ParseProfileCSV("x", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Points) != 1 || p.Points[0].Table != TableHolding || p.Points[0].Address != 0 || p.Points[0].Type != TypeUint16 || p.Points[0].Scale() != 0.5 {
				t.Fatalf("%+v", p.Points)
			}
		})
	}
}

func csvProblems(t *testing.T, text string) []string {
	t.Helper()
	_, err := ParseProfileCSV("x", []byte(text))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	var out []string
	for _, p := range ve.Problems {
		out = append(out, fmt.Sprintf("line %d: %s", p.Line, p.String()))
	}
	return out
}

// Every bad row is reported at once, with its line and column.
func TestParseProfileCSVReportsEveryRow(t *testing.T) {
	text := `name,table,address,type,order,scale,offset,unit,writable,description
ok,holding,0,uint16,,,,,,
bad_type,holding,1,float33,,,,,,
,holding,2,uint16,,,,,,
bad_scale,holding,3,uint16,,zero,,,,
bad_bool,holding,4,bool,,,,,,
past,holding,0x10000,uint16,,,,,,
ok,holding,5,uint16,,,,,,
no_table,,5,uint16,,,,,,
ro,input,6,uint16,,,,,maybe,
tbl,registers,7,uint16,,,,,,
order,holding,8,uint16,CDAB,,,,,
`
	got := csvProblems(t, text)
	want := []string{
		`line 3: type: unknown data type "float33" (valid: bool, int16, uint16, int32, uint32, int64, uint64, float32, float64)`,
		`line 4: name: is required`,
		`line 5: scale: "zero" is not a number`,
		`line 6: type: bool is for coil and discrete points`,
		`line 7: address: 0x10000 is past 0xFFFF (65535), the last Modbus address`,
		`line 8: name: point "ok" is already defined on line 2`,
		`line 9: address: table is empty`,
		`line 10: writable: "maybe" is not yes or no`,
		`line 11: table: unknown register table "registers"`,
		`line 12: order: CDAB reorders words, but uint16 is a single register`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
}

// The bad input: each a clear error with its line.
func TestParseProfileCSVBadInput(t *testing.T) {
	big := "name,address,type\n" + strings.Repeat("p,40001,uint16,,,,,,,,,,,,,,,,,,,,,,,\n", MaxProfileCSVBytes/30)
	wide := "name,address,type\nx," + strings.Repeat("1,", 10000) + "\n"
	for _, c := range []struct{ name, text, want string }{
		{"1 MiB", strings.Repeat("a", 1<<20), "line 1: the register map is larger than 256 KiB"},
		{"big but rows", big, "the register map is larger than 256 KiB"},
		{"10,000 columns", wide, "line 2: 10002 columns; a register map has at most 32"},
		{"utf-16", "\xFF\xFEn\x00a\x00", "line 1: the file is UTF-16"},
		{"latin-1", "name,address,type\nd\xE9bit,40001,uint16\n", "line 2: the file is not UTF-8"},
		{"no header", "", "line 1: no header row"},
		{"no points", "name,address,type\n", "line 2: no points"},
		{"unknown column", "name,adress,type\n", `line 1: unknown column "adress" (the columns are name, table, address, type, order, scale, offset, unit, writable, description, precision); did you mean "address"?`},
		{"missing column", "name,table,type\n", `line 1: the header has no "address" column`},
		{"twice", "name,address,type,name\n", `line 1: column "name" is named twice (columns 1 and 4)`},
		{"bare quote", "name,address,type\na\"b,40001,uint16\n", `line 2: column 2: bare " in non-quoted-field`},
		{"too many fields", "name,address,type\na,40001,uint16,7\n", "line 2: 4 columns, but the header names 3"},
		{"past 65535 hex", "name,table,address,type\na,holding,0xFFFFF,uint16\n", "line 2: address: 0xFFFFF is past 0xFFFF"},
		{"past 65535 decimal", "name,table,address,type\na,holding,70000,uint16\n", "line 2: address: 70000 is past 65535"},
		{"past 65535 notation", "name,address,type\na,465537,uint16\n", "line 2: address: 465537 is past 465536, the last holding register"},
		{"notation 5 digits", "name,address,type\na,40000,uint16\n", "line 2: address: 40000: the 1-based notation starts at 40001"},
		{"notation digit", "name,address,type\na,20001,uint16\n", "line 2: address: 20001: a 1-based address starts with the table's digit"},
		{"overflow", "name,table,address,type\na,holding,65535,uint32\n", "line 2: address: address 65535 + 2 registers overflows 65535"},
		{"separator", "name|address|type\n", `line 1: unknown column "name|address|type"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Join(csvProblems(t, c.text), "\n")
			if !strings.Contains(got, c.want) {
				t.Fatalf("got\n%s\nwant %q", got, c.want)
			}
		})
	}
}

func TestParseProfileCSVCapsProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("name,address,type\n")
	for i := range 500 {
		fmt.Fprintf(&b, "a%d,40001,float33\n", i)
	}
	text := b.String()
	got := csvProblems(t, text)
	if len(got) != MaxProfileCSVProblems+1 || !strings.Contains(got[len(got)-1], "and 300 more rows with problems not shown") {
		t.Fatalf("%d problems, last %q", len(got), got[len(got)-1])
	}
}

func TestParseAddress(t *testing.T) {
	for _, c := range []struct {
		in    string
		table RegisterTable
		wantT RegisterTable
		want  int
	}{
		{"0", TableHolding, TableHolding, 0},
		{"40001", 0, TableHolding, 0},
		{"40001", TableHolding, TableHolding, 0},
		{"40001", TableInput, TableInput, 40001}, // another table's digit: 0-based
		{"49999", 0, TableHolding, 9998},
		{"400001", 0, TableHolding, 0},
		{"465536", 0, TableHolding, 65535},
		{"300010", 0, TableInput, 9},
		{"30010", 0, TableInput, 9},
		{"10001", 0, TableDiscrete, 0},
		{"00001", 0, TableCoil, 0},
		{"000001", 0, TableCoil, 0},
		{"0x0010", TableHolding, TableHolding, 16},
		{"0XFFFF", TableInput, TableInput, 65535},
		{"12345", TableHolding, TableHolding, 12345},
		{" 7 ", TableCoil, TableCoil, 7},
	} {
		gotT, got, err := ParseAddress(c.in, c.table)
		if err != nil || gotT != c.wantT || got != c.want {
			t.Errorf("ParseAddress(%q, %s) = %s %d %v; want %s %d", c.in, c.table, gotT, got, err, c.wantT, c.want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "0x", "0xZZ", "1.5", "0x10000", "65536", "99999", "465537", "40000", "0x12"} {
		if _, _, err := ParseAddress(bad, 0); err == nil {
			t.Errorf("ParseAddress(%q, none) accepted", bad)
		}
	}
}

// A map exported as CSV reads back to the same profile, for every built-in
// profile.
func TestProfileCSVRoundTrip(t *testing.T) {
	for _, p := range Profiles() {
		b, err := EncodeProfileCSV(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseProfileCSV(p.Name, b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", p.Name, err, b)
		}
		if !reflect.DeepEqual(back.Points, p.Points) {
			t.Errorf("%s: points changed by the round trip\n got %+v\nwant %+v", p.Name, back.Points, p.Points)
		}
	}
	p := Profile{Name: "x", Points: []Point{{Name: "a", Table: TableHolding, Address: 1, Type: TypeUint16, Precision: 3}}}
	b, _ := EncodeProfileCSV(p)
	if !bytes.Contains(b, []byte("precision")) {
		t.Fatalf("precision column missing:\n%s", b)
	}
	if back, err := ParseProfileCSV("x", b); err != nil || back.Points[0].Precision != 3 {
		t.Fatalf("%+v %v", back, err)
	}
}

func FuzzParseProfileCSV(f *testing.F) {
	f.Add([]byte(sampleMap))
	f.Add([]byte("name;address;type\na;30001;float32\n"))
	f.Add([]byte("\xEF\xBB\xBFname,address,type\n\"a,b\",0x1,uint16\n"))
	f.Add([]byte("name,table,address,type\nx,holding,465536,uint64\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfileCSV("fuzz", data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error is not a list of problems: %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted an invalid profile: %v", err)
		}
		b, err := EncodeProfileCSV(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseProfileCSV("fuzz", b); err != nil {
			t.Fatalf("its own export does not read back: %v\n%s", err, b)
		}
	})
}
