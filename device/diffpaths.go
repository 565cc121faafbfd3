package device

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// ChangedPaths compares two JSON documents (stored site revisions) and
// returns the paths that differ, at most max of them, coarsest first: a
// section that differs wholly is named once (`wan.priority`,
// `modbus.devices[ahu-1]`). Lists of named items are compared by name.
func ChangedPaths(a, b []byte, max int) []string {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return nil
	}
	var out []string
	diffValue("", va, vb, 0, &out)
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("and %d more", len(out)-max))
	}
	return out
}

// diffDepth is how deep paths go: deeper differences are named by their
// ancestor at this depth.
const diffDepth = 3

func diffValue(path string, a, b any, depth int, out *[]string) {
	if reflect.DeepEqual(a, b) {
		return
	}
	name := path
	if name == "" {
		name = "site"
	}
	if depth >= diffDepth {
		*out = append(*out, name)
		return
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			*out = append(*out, name)
			return
		}
		keys := make([]string, 0, len(x)+len(y))
		for k := range x {
			keys = append(keys, k)
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			diffValue(join(path, k), x[k], y[k], depth+1, out)
		}
	case []any:
		y, ok := b.([]any)
		if !ok || !named(x) || !named(y) {
			*out = append(*out, name)
			return
		}
		byName := map[string]any{}
		for _, v := range y {
			byName[v.(map[string]any)["name"].(string)] = v
		}
		seen := map[string]bool{}
		for _, v := range x {
			n := v.(map[string]any)["name"].(string)
			seen[n] = true
			diffValue(fmt.Sprintf("%s[%s]", name, n), v, byName[n], depth+1, out)
		}
		for _, v := range y {
			if n := v.(map[string]any)["name"].(string); !seen[n] {
				*out = append(*out, fmt.Sprintf("%s[%s]", name, n))
			}
		}
	default:
		*out = append(*out, name)
	}
}

// named reports whether every element is an object with a string name.
func named(list []any) bool {
	for _, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["name"].(string); !ok {
			return false
		}
	}
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
