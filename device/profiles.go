package device

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
)

// Profile is a built-in register map: the points of a common kind of
// device, named so that a site file can say `profile: generic-vsd` instead of
// listing them.
type Profile struct {
	Name        string  `yaml:"name" json:"name"`               // what `profile:` says; the file name without .yaml
	Description string  `yaml:"description" json:"description"` // one line for people
	Points      []Point `yaml:"points" json:"points"`           // in register order
}

// Validate checks the profile's name and points, with paths relative to the
// profile (points[2].type).
func (p Profile) Validate() error {
	var v problems
	checkName(&v, "name", p.Name)
	checkText(&v, "description", p.Description, 200, false)
	if len(p.Points) == 0 {
		v.add("points", "a profile needs at least one point")
	}
	checkPoints(&v, "points", p.Points)
	return v.err()
}

func (p Profile) clone() Profile {
	p.Points = slices.Clone(p.Points)
	for i := range p.Points {
		p.Points[i] = p.Points[i].clone()
	}
	return p
}

//go:embed profiles/*.yaml
var profileFiles embed.FS

// builtinProfiles parses the embedded profiles once. They are part of the
// program, and a test validates each, so a broken one is a build defect and
// panics.
var builtinProfiles = sync.OnceValue(func() []Profile {
	entries, err := profileFiles.ReadDir("profiles")
	if err != nil {
		panic(fmt.Sprintf("device: read embedded profiles: %v", err))
	}
	var out []Profile
	for _, e := range entries {
		name := path.Join("profiles", e.Name())
		data, err := profileFiles.ReadFile(name)
		if err != nil {
			panic(fmt.Sprintf("device: read embedded profile %s: %v", name, err))
		}
		var p Profile
		if err := decodeStrict(data, &p); err != nil {
			panic(fmt.Sprintf("device: embedded profile %s:\n%v", name, err))
		}
		if want := strings.TrimSuffix(e.Name(), ".yaml"); p.Name != want {
			panic(fmt.Sprintf("device: embedded profile %s is named %q", name, p.Name))
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Profile) int { return strings.Compare(a.Name, b.Name) })
	return out
})

// Profiles returns the built-in profiles, sorted by name. The caller may
// change the result.
func Profiles() []Profile {
	ps := builtinProfiles()
	out := make([]Profile, len(ps))
	for i, p := range ps {
		out[i] = p.clone()
	}
	return out
}

// ProfileNames returns the names of the built-in profiles, sorted.
func ProfileNames() []string {
	ps := builtinProfiles()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// LookupProfile returns the built-in profile called name.
func LookupProfile(name string) (Profile, bool) {
	for _, p := range builtinProfiles() {
		if p.Name == name {
			return p.clone(), true
		}
	}
	return Profile{}, false
}

// EffectivePoints returns the points the device is polled for: its profile's
// points in profile order, each replaced by the device's own point of the
// same name if there is one, followed by the device's other points in their
// order. An unknown profile contributes nothing (Validate reports it).
func (d Device) EffectivePoints() []Point {
	own := make(map[string]int, len(d.Points))
	for i, p := range d.Points {
		if _, dup := own[p.Name]; !dup {
			own[p.Name] = i
		}
	}
	var out []Point
	used := make(map[int]bool, len(d.Points))
	if prof, ok := LookupProfile(d.Profile); ok && d.Profile != "" {
		for _, p := range prof.Points {
			if i, ok := own[p.Name]; ok {
				p = d.Points[i].clone()
				used[i] = true
			}
			out = append(out, p)
		}
	}
	for i, p := range d.Points {
		if !used[i] {
			out = append(out, p.clone())
		}
	}
	return out
}

// ParseProfileYAML reads a register profile from a file (the format of the
// built-in ones: name, description, points), strictly, and validates it.
func ParseProfileYAML(data []byte) (Profile, error) {
	var p Profile
	if err := decodeStrict(data, &p); err != nil {
		return Profile{}, err
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}
