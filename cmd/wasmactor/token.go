package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor/token"
)

// caveatFlags are the flags that narrow a token, shared by create and
// narrow.
type caveatFlags struct {
	role      string
	factories []string
	names     []string
	ttl       time.Duration
}

func (f *caveatFlags) add(cmd *cobra.Command, roleHelp string) {
	fs := cmd.Flags()
	fs.StringVar(&f.role, "role", "", roleHelp)
	fs.StringArrayVar(&f.factories, "factory", nil, "factories in reach: a name or a pattern ('*', '?', [a-z]); repeat for several")
	fs.StringArrayVar(&f.names, "name", nil, "names of the actors in reach, and that spawns must give: a name or a pattern ('*' does not cross '/'); repeat for several")
	fs.DurationVar(&f.ttl, "ttl", 0, "how long the token works, e.g. 24h (default: until the cookie changes)")
}

// caveat is what the flags say, as one caveat; empty if they say nothing.
func (f *caveatFlags) caveat() (token.Caveat, error) {
	var c token.Caveat
	if f.role != "" {
		r, err := token.ParseRole(f.role)
		if err != nil {
			return c, usageErrorf("--role must be viewer, operator or admin, not %q", f.role)
		}
		c.Role = r
	}
	c.Factories, c.Names = f.factories, f.names
	switch {
	case f.ttl < 0:
		return c, usageErrorf("--ttl must not be negative, not %s", f.ttl)
	case f.ttl > 0:
		c.Expires = time.Now().Add(f.ttl)
	}
	return c, nil
}

type tokenJSON struct {
	Token     string     `json:"token,omitempty"`
	ID        string     `json:"id"`
	Role      string     `json:"role"`
	Factories [][]string `json:"factories,omitempty"`
	Names     [][]string `json:"names,omitempty"`
	Expires   string     `json:"expires,omitempty"`
}

func tokenOut(tok *token.Token, withSecret bool) tokenJSON {
	g := tok.Claims()
	out := tokenJSON{ID: g.ID, Role: g.Role.String(), Factories: g.Factories, Names: g.Names}
	if withSecret {
		out.Token = tok.String()
	}
	if !g.Expires.IsZero() {
		out.Expires = g.Expires.UTC().Format(time.RFC3339)
	}
	return out
}

// printToken prints a new token: alone on its line (so that
// WASMACTOR_TOKEN=$(wasmactor token create ...) works), or as JSON.
func (a *app) printToken(tok *token.Token, out format) error {
	if out == formatJSON {
		return writeJSON(a.stdout, tokenOut(tok, true))
	}
	_, err := fmt.Fprintln(a.stdout, tok.String())
	return err
}

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint, narrow and inspect tokens: least privilege for clients",
		Long: `A token lets a client (this CLI, or package client) do less than the cookie
allows. Its role is viewer (ps, nodes, modules), operator (also spawn, send,
call and kill actors in its reach) or admin (also deploy and join). It can be
narrowed to factories and to actor names (patterns) and given an expiry.

Any node verifies any token from the cookie alone, without a database. Whoever
holds a token can narrow it further, never widen it. A token cannot be
revoked before it expires except by changing the cookie (which revokes every
token). Keep tokens secret: use $` + envToken + ` rather than --token, which other
users of the machine can see in the process list.`,
		Example: `  wasmactor token create --role operator --factory Account --name 'bank/*' --ttl 24h
  WASMACTOR_TOKEN=wat1.... wasmactor token inspect`,
		Args: exactArgs(0, "a subcommand: create, narrow or inspect"),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.tokenCreateCmd(), a.tokenNarrowCmd(), a.tokenInspectCmd())
	return cmd
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var (
		out format
		f   caveatFlags
	)
	cmd := &cobra.Command{
		Use:   "create --role ROLE [--factory F]... [--name N]... [--ttl D]",
		Short: "Mint a token from the cookie; print it",
		Long: `Mint a token from the cluster's cookie (--cookie-file, as for every command)
and print it on stdout. Nothing is sent anywhere: any node of the cluster
accepts the token, and the cookie is all it takes to verify it.`,
		Example: `  wasmactor token create --role viewer --ttl 720h
  wasmactor token create --role operator --factory Account --name 'bank/*' --ttl 24h
  export WASMACTOR_TOKEN=$(wasmactor token create --role operator --factory Account)`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.role == "" {
				return usageErrorf("token create needs --role viewer, operator or admin: a token is never admin by omission")
			}
			c, err := f.caveat()
			if err != nil {
				return err
			}
			cookie, err := a.readCookie(a.cookieFile)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return failWhole(exitUsage, err, "no cookie file at %s: token create needs the cluster's cookie; pass --cookie-file or set %s", a.cookieFile, envCookieFile)
				}
				return failWhole(exitUsage, err, "cookie file %s: %v", a.cookieFile, oneLineBare(err))
			}
			auth, err := token.NewAuthority(cookie)
			if err != nil {
				return fail(exitUsage, err, "cookie file %s: %v", a.cookieFile, oneLineBare(err))
			}
			var cs []token.Caveat
			cs = append(cs, token.Caveat{Role: c.Role})
			if len(c.Factories) > 0 {
				cs = append(cs, token.Caveat{Factories: c.Factories})
			}
			if len(c.Names) > 0 {
				cs = append(cs, token.Caveat{Names: c.Names})
			}
			if !c.Expires.IsZero() {
				cs = append(cs, token.Caveat{Expires: c.Expires})
			}
			tok, err := auth.Mint(cs...)
			if err != nil {
				return fail(exitUsage, err, "token create: %v", oneLineBare(err))
			}
			return a.printToken(tok, out)
		},
	}
	f.add(cmd, "viewer, operator or admin (required)")
	addFormatFlag(cmd, &out)
	return cmd
}

func (a *app) tokenNarrowCmd() *cobra.Command {
	var (
		out format
		f   caveatFlags
	)
	cmd := &cobra.Command{
		Use:   "narrow [--role ROLE] [--factory F]... [--name N]... [--ttl D]",
		Short: "Narrow the token (--token or $" + envToken + "); print the result",
		Long: `Add a caveat to the token given with --token or $` + envToken + ` and print the
new token. No cookie is needed: whoever holds a token can give away less of
it. The result allows at most what the token allows, whatever the flags say:
a caveat only ever restricts.`,
		Example: `  WASMACTOR_TOKEN=$(wasmactor token narrow --name 'bank/alice' --ttl 1h)`,
		Args:    exactArgs(0, "no arguments (the token is --token or $"+envToken+")"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := a.givenToken("narrow")
			if err != nil {
				return err
			}
			c, err := f.caveat()
			if err != nil {
				return err
			}
			if c.Role == 0 && c.Factories == nil && c.Names == nil && c.Expires.IsZero() {
				return usageErrorf("token narrow needs --role, --factory, --name or --ttl")
			}
			n, err := tok.Narrow(c)
			if err != nil {
				return fail(exitUsage, err, "token narrow: %v", oneLineBare(err))
			}
			return a.printToken(n, out)
		},
	}
	f.add(cmd, "viewer, operator or admin: caps the role")
	addFormatFlag(cmd, &out)
	return cmd
}

func (a *app) tokenInspectCmd() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Print what the token (--token or $" + envToken + ") claims",
		Long: `Print the id, role, factories, names and expiry that the token given with
--token or $` + envToken + ` claims, without its secret. Only a node (which holds
the cookie) can tell whether the cluster minted it.`,
		Example: `  wasmactor token inspect -o json`,
		Args:    exactArgs(0, "no arguments (the token is --token or $"+envToken+")"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := a.givenToken("inspect")
			if err != nil {
				return err
			}
			j := tokenOut(tok, false)
			if out == formatJSON {
				return writeJSON(a.stdout, j)
			}
			rows := [][]string{{"id", j.ID}, {"role", j.Role}}
			for _, l := range j.Factories {
				rows = append(rows, []string{"factories", strings.Join(l, " ")})
			}
			for _, l := range j.Names {
				rows = append(rows, []string{"names", strings.Join(l, " ")})
			}
			if j.Expires != "" {
				rows = append(rows, []string{"expires", j.Expires})
			}
			return table(a.stdout, []string{"CLAIM", "VALUE"}, rows)
		},
	}
	addFormatFlag(cmd, &out)
	return cmd
}

// givenToken is --token (or $WASMACTOR_TOKEN), which cmd needs.
func (a *app) givenToken(cmd string) (*token.Token, error) {
	if err := a.loadToken(); err != nil {
		return nil, err
	}
	if a.tok == nil {
		return nil, usageErrorf("token %s needs a token: --token or $%s", cmd, envToken)
	}
	return a.tok, nil
}
