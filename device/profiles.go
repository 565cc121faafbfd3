package device

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
)

// Bounds of profiles.
const (
	// MaxProfilePoints bounds the points of one profile: the largest
	// published register maps of meters have a few hundred values.
	MaxProfilePoints = 2000
	// MaxSiteProfiles bounds the profiles a site defines.
	MaxSiteProfiles = 100
	// MaxProfileMatches bounds a profile's identification patterns.
	MaxProfileMatches = 16
	// maxProfileText bounds a profile's description, source and patterns.
	maxProfileText = 200
)

// Profile is a register map: the points of a kind of device, named so that
// a device can say `profile: eastron-sdm630` instead of listing them. The
// built-in ones are embedded from profiles/*.yaml and read-only; a site adds
// its own under `profiles:` (imported from CSV with `profile import`).
type Profile struct {
	Name        string `yaml:"name" json:"name"`                                   // what `profile:` says; built-in: the file name without .yaml
	Description string `yaml:"description,omitempty" json:"description,omitempty"` // one line for people
	// Source names the published register map the profile follows
	// (document title and version), for built-in profiles.
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	// Match lists what devices of this kind say in their identification
	// (Modbus function 43: "vendor product", matched as case-insensitive
	// substrings), so that a scan can suggest the profile.
	Match  []string `yaml:"match,omitempty" json:"match,omitempty"`
	Points []Point  `yaml:"points" json:"points"` // in register order
}

// Validate checks the profile's name and points, with paths relative to the
// profile (points[2].type).
func (p Profile) Validate() error {
	var v problems
	p.validate(&v, "")
	return v.err()
}

func (p *Profile) validate(v *problems, path string) {
	checkName(v, joinPath(path, "name"), p.Name)
	checkText(v, joinPath(path, "description"), p.Description, maxProfileText, false)
	checkText(v, joinPath(path, "source"), p.Source, maxProfileText, false)
	if len(p.Match) > MaxProfileMatches {
		v.add(joinPath(path, "match"), "%d patterns; at most %d", len(p.Match), MaxProfileMatches)
	}
	for i, m := range p.Match {
		checkText(v, pathf("%s[%d]", joinPath(path, "match"), i), m, maxProfileText, true)
	}
	switch {
	case len(p.Points) == 0:
		v.add(joinPath(path, "points"), "a profile needs at least one point")
	case len(p.Points) > MaxProfilePoints:
		v.add(joinPath(path, "points"), "%d points; a profile holds at most %d", len(p.Points), MaxProfilePoints)
	}
	checkPoints(v, joinPath(path, "points"), p.Points)
}

func (p Profile) clone() Profile {
	p.Match = cloneSlice(p.Match)
	p.Points = slices.Clone(p.Points)
	for i := range p.Points {
		p.Points[i] = p.Points[i].clone()
	}
	return p
}

// Matches reports whether a device that identifies itself with vendor and
// model (function 43's VendorName and ProductCode) is of this profile's
// kind: one of Match is a substring of "vendor model", or the profile's
// name is the model (case-insensitive).
func (p Profile) Matches(vendor, model string) bool {
	id := strings.ToLower(strings.TrimSpace(vendor + " " + model))
	if id == "" {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(model), p.Name) {
		return true
	}
	for _, m := range p.Match {
		if m = strings.ToLower(strings.TrimSpace(m)); m != "" && strings.Contains(id, m) {
			return true
		}
	}
	return false
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

// IsBuiltinProfile reports whether name is a built-in profile (read-only).
func IsBuiltinProfile(name string) bool {
	_, ok := LookupProfile(name)
	return ok
}

// LookupProfile returns the profile called name: the site's own, or a
// built-in one (a site profile cannot take a built-in name: Validate).
func (s *Site) LookupProfile(name string) (Profile, bool) {
	if s != nil {
		for _, p := range s.Profiles {
			if p.Name == name {
				return p.clone(), true
			}
		}
	}
	return LookupProfile(name)
}

// ProfileNames returns every profile a device of the site may use: the
// built-in ones, then the site's own, each group sorted.
func (s *Site) ProfileNames() []string {
	names := ProfileNames()
	if s == nil {
		return names
	}
	own := make([]string, 0, len(s.Profiles))
	for _, p := range s.Profiles {
		own = append(own, p.Name)
	}
	slices.Sort(own)
	return append(names, own...)
}

// AllProfiles returns every profile of the site, built-in first, in the
// order of ProfileNames.
func (s *Site) AllProfiles() []Profile {
	var out []Profile
	for _, n := range s.ProfileNames() {
		if p, ok := s.LookupProfile(n); ok {
			out = append(out, p)
		}
	}
	return out
}

// GuessProfile returns the profile that a device identifying itself as
// vendor and model most likely has (see Profile.Matches): the site's own
// profiles are asked first, so that an installer's map wins over a
// built-in one. "" when none matches.
func (s *Site) GuessProfile(vendor, model string) string {
	if s != nil {
		for _, p := range s.Profiles {
			if p.Matches(vendor, model) {
				return p.Name
			}
		}
	}
	for _, p := range builtinProfiles() {
		if p.Matches(vendor, model) {
			return p.Name
		}
	}
	return ""
}

// PutProfile adds p to the site's own profiles, or replaces the one of
// the same name. It reports whether one was replaced. Built-in profiles
// are read-only: naming one is ErrBuiltinProfile.
func (s *Site) PutProfile(p Profile) (replaced bool, err error) {
	if IsBuiltinProfile(p.Name) {
		return false, fmt.Errorf("profile %s: %w; import it under another name", p.Name, ErrBuiltinProfile)
	}
	if i := slices.IndexFunc(s.Profiles, func(x Profile) bool { return x.Name == p.Name }); i >= 0 {
		s.Profiles[i] = p.clone()
		return true, nil
	}
	s.Profiles = append(s.Profiles, p.clone())
	return false, nil
}

// DeleteProfile removes one of the site's own profiles. A built-in
// profile, an unknown one and one still used by a device are refused.
func (s *Site) DeleteProfile(name string) error {
	if IsBuiltinProfile(name) {
		return fmt.Errorf("profile %s: %w", name, ErrBuiltinProfile)
	}
	if !slices.ContainsFunc(s.Profiles, func(p Profile) bool { return p.Name == name }) {
		return fmt.Errorf("%w %q: `profile list` shows the profiles", ErrNoSuchProfile, name)
	}
	var users []string
	for _, d := range s.Modbus.Devices {
		if d.Profile == name {
			users = append(users, d.Name)
		}
	}
	if len(users) > 0 {
		return fmt.Errorf("profile %s: %w (%s); give them another profile first", name, ErrProfileInUse, strings.Join(users, ", "))
	}
	s.Profiles = slices.DeleteFunc(s.Profiles, func(p Profile) bool { return p.Name == name })
	return nil
}

// EffectivePoints returns the points device d of the site is polled for:
// its profile's points (a site or built-in profile) in profile order, each
// replaced by the device's own point of the same name if there is one,
// followed by the device's other points in their order. An unknown profile
// contributes nothing (Validate reports it).
func (s *Site) EffectivePoints(d Device) []Point {
	own := make(map[string]int, len(d.Points))
	for i, p := range d.Points {
		if _, dup := own[p.Name]; !dup {
			own[p.Name] = i
		}
	}
	var out []Point
	used := make(map[int]bool, len(d.Points))
	if prof, ok := s.LookupProfile(d.Profile); ok && d.Profile != "" {
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

// EffectivePoints returns the device's points with a built-in profile only
// (see Site.EffectivePoints, which also knows the site's own profiles).
func (d Device) EffectivePoints() []Point { return (*Site)(nil).EffectivePoints(d) }

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
