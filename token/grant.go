package token

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Role is what a token holder may do, from least to most. The zero Role
// grants nothing.
type Role uint8

// Roles. Each includes the ones below it.
const (
	// Viewer lists: ps, nodes, modules.
	Viewer Role = 1
	// Operator also spawns, sends, calls and kills actors within its
	// token's factories and names.
	Operator Role = 2
	// Admin may do anything the cookie may: deploy modules, make the node
	// join a cluster, and everything an unrestricted operator may.
	Admin Role = 3
)

var roleNames = [...]string{"none", "viewer", "operator", "admin"}

// String is the role's name: viewer, operator, admin (none for the zero
// Role and unknown values).
func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "none"
}

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	for r := Viewer; r <= Admin; r++ {
		if s == r.String() {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w: role must be viewer, operator or admin, not %q", ErrMalformed, s)
}

// Grant is the authority a client proved: its role and what its token's
// caveats narrow it to. The cookie proves [AdminGrant]. A Grant is a
// value; its slices are never modified once made.
type Grant struct {
	// Role is the least role any caveat names.
	Role Role
	// Factories holds one list of patterns per caveat that names
	// factories: a factory is in reach if it matches a pattern of every
	// list. Empty: every factory.
	Factories [][]string
	// Names likewise restricts the actors in reach to those holding a
	// name that matches a pattern of every list. Empty: no restriction.
	Names [][]string
	// Expires is the earliest expiry of the caveats; zero never expires.
	Expires time.Time
	// ID is the token's id (hex), for logs; empty for the cookie.
	ID string
}

// AdminGrant is what the cookie proves: everything.
func AdminGrant() Grant { return Grant{Role: Admin} }

// Allows reports whether g's role includes r.
func (g Grant) Allows(r Role) bool { return g.Role >= r }

// Expired reports whether g has expired at now.
func (g Grant) Expired(now time.Time) bool { return !g.Expires.IsZero() && !now.Before(g.Expires) }

// Scoped reports whether g is narrowed to factories or names.
func (g Grant) Scoped() bool { return len(g.Factories) > 0 || len(g.Names) > 0 }

// AllowsFactory reports whether factory ("Account", or "Account@<hash
// prefix>", which is the factory Account) is in reach.
func (g Grant) AllowsFactory(factory string) bool {
	if i := strings.IndexByte(factory, '@'); i >= 0 {
		factory = factory[:i]
	}
	return matchesAll(g.Factories, factory)
}

// AllowsName reports whether name passes every names caveat. A grant
// without names caveats allows every name.
func (g Grant) AllowsName(name string) bool { return matchesAll(g.Names, name) }

// AllowsAnyName reports whether one of names passes every names caveat:
// an actor is in reach when it holds such a name. A grant without names
// caveats allows any actor, named or not.
func (g Grant) AllowsAnyName(names []string) bool {
	if len(g.Names) == 0 {
		return true
	}
	for _, n := range names {
		if g.AllowsName(n) {
			return true
		}
	}
	return false
}

func matchesAll(sets [][]string, s string) bool {
	for _, set := range sets {
		if !matchesOne(set, s) {
			return false
		}
	}
	return true
}

func matchesOne(patterns []string, s string) bool {
	for _, p := range patterns {
		// Patterns were checked when the token was decoded or minted.
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// String describes g for logs and error messages.
func (g Grant) String() string {
	var b strings.Builder
	b.WriteString(g.Role.String())
	for _, f := range g.Factories {
		fmt.Fprintf(&b, ", factories %s", strings.Join(f, "|"))
	}
	for _, n := range g.Names {
		fmt.Fprintf(&b, ", names %s", strings.Join(n, "|"))
	}
	if !g.Expires.IsZero() {
		fmt.Fprintf(&b, ", expires %s", g.Expires.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// add narrows g by one decoded caveat.
func (g *Grant) add(c Caveat) {
	if c.Role != 0 && c.Role < g.Role {
		g.Role = c.Role
	}
	if len(c.Factories) > 0 {
		g.Factories = append(g.Factories, c.Factories)
	}
	if len(c.Names) > 0 {
		g.Names = append(g.Names, c.Names)
	}
	if !c.Expires.IsZero() && (g.Expires.IsZero() || c.Expires.Before(g.Expires)) {
		g.Expires = c.Expires
	}
}
