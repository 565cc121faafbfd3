// Package textdiff compares two texts line by line and writes the result
// as a unified diff: the console's preview of a site change, the Sync
// tab's local-versus-cloud view and exec `config diff`.
//
// # Caveats
//
//   - Texts that differ in more than maxDiffEdits lines are reported as
//     replaced wholesale: the diff stays bounded in time and memory.
package textdiff

import (
	"fmt"
	"strings"
)

// DiffOp is one line of a line diff.
type DiffOp struct {
	Kind byte // ' ' same, '-' only in a, '+' only in b
	Line string
}

// maxDiffEdits bounds the work of diffLines: files that differ in more
// lines than this are reported as replaced wholesale.
const maxDiffEdits = 4000

// diffLines returns a shortest edit script from a to b (Myers' O(ND)
// algorithm, bounded by maxDiffEdits).
func diffLines(a, b []string) []DiffOp {
	n, m := len(a), len(b)
	max := n + m
	if max > maxDiffEdits*2 {
		max = maxDiffEdits * 2
	}
	off := max + 1
	v := make([]int, 2*max+3)
	var trace [][]int
	found := false
	for d := 0; d <= max && !found; d++ {
		snapshot := append([]int(nil), v...)
		trace = append(trace, snapshot)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || k != d && v[off+k-1] < v[off+k+1] {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = true
				break
			}
		}
	}
	if !found {
		var ops []DiffOp
		for _, l := range a {
			ops = append(ops, DiffOp{'-', l})
		}
		for _, l := range b {
			ops = append(ops, DiffOp{'+', l})
		}
		return ops
	}
	// Walk back through the trace to recover the edits.
	var ops []DiffOp
	x, y := n, m
	for d := len(trace) - 1; d > 0; d-- {
		vd := trace[d]
		k := x - y
		var prevK int
		if k == -d || k != d && vd[off+k-1] < vd[off+k+1] {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := vd[off+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			ops = append(ops, DiffOp{' ', a[x-1]})
			x--
			y--
		}
		if x == prevX {
			ops = append(ops, DiffOp{'+', b[y-1]})
		} else {
			ops = append(ops, DiffOp{'-', a[x-1]})
		}
		x, y = prevX, prevY
	}
	for x > 0 && y > 0 {
		ops = append(ops, DiffOp{' ', a[x-1]})
		x--
		y--
	}
	for i, j := 0, len(ops)-1; i < j; i, j = i+1, j-1 {
		ops[i], ops[j] = ops[j], ops[i]
	}
	return ops
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Unified returns a unified diff of two texts with context lines, or ""
// when they are equal.
func Unified(aName, bName, a, b string, context int) string {
	al, bl := splitLines(a), splitLines(b)
	ops := diffLines(al, bl)
	changed := false
	for _, op := range ops {
		if op.Kind != ' ' {
			changed = true
			break
		}
	}
	if !changed {
		return ""
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	// Group edits into hunks with context.
	i := 0
	ai, bi := 0, 0 // line numbers before ops[i]
	for i < len(ops) {
		if ops[i].Kind == ' ' {
			i++
			ai++
			bi++
			continue
		}
		start := i
		for c := 0; c < context && start > 0 && ops[start-1].Kind == ' '; c++ {
			start--
		}
		end := i
		for end < len(ops) {
			if ops[end].Kind != ' ' {
				end++
				continue
			}
			run := 0
			for end+run < len(ops) && ops[end+run].Kind == ' ' {
				run++
			}
			if end+run == len(ops) || run > 2*context {
				if run > context {
					run = context
				}
				end += run
				break
			}
			end += run
		}
		back := i - start
		as, bs := ai-back, bi-back
		var acount, bcount int
		for _, op := range ops[start:end] {
			if op.Kind != '+' {
				acount++
			}
			if op.Kind != '-' {
				bcount++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", as+1, acount, bs+1, bcount)
		for _, op := range ops[start:end] {
			out.WriteByte(op.Kind)
			out.WriteString(op.Line)
			out.WriteByte('\n')
		}
		for _, op := range ops[i:end] {
			if op.Kind != '+' {
				ai++
			}
			if op.Kind != '-' {
				bi++
			}
		}
		i = end
	}
	return out.String()
}
